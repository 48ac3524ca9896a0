# Joint training (no balancing) of an MLP per view of the UCI Multiple
# Features digits, concatenation fusion, linear classifier.
_base_ = [
    '_base_/default_runtime.py', '_base_/schedules/adam_27e_constant.py',
    '_base_/datasets/mfeat.py'
]

# Any subset of the six views; each is one modality with its own encoder.
views = ('fou', 'kar', 'mor')
view_dims = dict(fou=76, fac=216, kar=64, pix=240, zer=47, mor=6)

model = dict(
    type='MultiModalRecognizer',
    encoders={
        view:
        dict(
            type='MLPEncoder',
            in_channels=view_dims[view],
            hidden_channels=(128, 128),
            dropout=0.1)
        for view in views
    },
    fusion=dict(type='ConcatFusion'),
    cls_head=dict(type='LinearClsHead', num_classes=10, topk=(1, )))

train_dataloader = dict(dataset=dict(views=views))
val_dataloader = dict(dataset=dict(views=views))
test_dataloader = dict(dataset=dict(views=views))
