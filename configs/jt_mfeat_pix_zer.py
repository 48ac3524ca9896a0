# Joint training on the views pix and zer of the Multiple Features digits;
# otherwise as jt_mfeat.py.
_base_ = ['./jt_mfeat.py']

views = ('pix', 'zer')
view_dims = dict(pix=240, zer=47)

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
