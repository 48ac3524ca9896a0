# Joint training on the views fou and mor of the Multiple Features digits;
# otherwise as jt_mfeat.py.
_base_ = ['./jt_mfeat.py']

views = ('fou', 'mor')
view_dims = dict(fou=76, mor=6)

model = dict(
    encoders=dict(
        _delete_=True,
        **{
            view:
            dict(
                type='MLPEncoder',
                in_channels=view_dims[view],
                hidden_channels=(128, 128),
                dropout=0.1)
            for view in views
        }))

train_dataloader = dict(dataset=dict(views=views))
val_dataloader = dict(dataset=dict(views=views))
test_dataloader = dict(dataset=dict(views=views))
