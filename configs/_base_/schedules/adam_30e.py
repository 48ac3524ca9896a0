train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=30, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    optimizer=dict(type='Adam', lr=1e-3, weight_decay=1e-4), clip_grad=None)

param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=30, eta_min=1e-5, by_epoch=True)
]

# Learning rate tuned for this total batch size; --auto-scale-lr rescales.
auto_scale_lr = dict(enable=False, base_batch_size=64)
