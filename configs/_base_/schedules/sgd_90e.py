# The reference code's optimisation (CREMA-D): SGD, learning rate 0.002,
# momentum 0.9, weight decay 1e-4, batch 64, 90 epochs, no schedule: the
# rate stays constant, so encoders re-learnt after epochs 21, 41 and 61
# train at the full rate for 29 to 69 more epochs.
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=90, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

# BalancedOptimWrapper is mmengine's OptimWrapper plus the place where a
# model.balancer (OGM-GE, MMPareto) changes gradients before the step.
optim_wrapper = dict(
    type='BalancedOptimWrapper',
    optimizer=dict(type='SGD', lr=0.002, momentum=0.9, weight_decay=1e-4),
    clip_grad=None)
param_scheduler = []

# The learning rate is the reference's for this total batch size;
# --auto-scale-lr rescales it for another.
auto_scale_lr = dict(enable=False, base_batch_size=64)
