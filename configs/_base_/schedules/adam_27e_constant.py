# The reference code's schedule shape (see sgd_90e.py: a constant learning
# rate, no annealing) scaled by 0.3, from 90 to 27 epochs, with Adam for the
# small encoders trained from scratch. With _base_/dr/dr_27e.py the last
# re-learned encoders train 8 epochs at the full rate, as the reference's
# train 29 of 90.
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=27, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

# BalancedOptimWrapper is mmengine's OptimWrapper plus the place where a
# model.balancer (OGM-GE, MMPareto) changes gradients before the step.
optim_wrapper = dict(
    type='BalancedOptimWrapper',
    optimizer=dict(type='Adam', lr=1e-3, weight_decay=1e-4),
    clip_grad=None)
param_scheduler = []

# Learning rate tuned for this total batch size; --auto-scale-lr rescales.
auto_scale_lr = dict(enable=False, base_batch_size=64)
