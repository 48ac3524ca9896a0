# BalanceBenchmark's optimisation (AdamW, learning rate 1e-3, weight decay
# 0.01, batch 32, 30 epochs) at a constant rate: its StepLR(10, 0.1) would
# leave encoders re-learnt by D&R after epoch 14 or 21 at 1e-5 and below,
# where the D&R reference trains them at its full rate.
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=30, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

# BalancedOptimWrapper is mmengine's OptimWrapper plus the place where a
# model.balancer (OGM-GE, MMPareto) changes gradients before the step.
optim_wrapper = dict(
    type='BalancedOptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.01),
    clip_grad=None)
param_scheduler = []

# Learning rate tuned for this total batch size; --auto-scale-lr rescales.
auto_scale_lr = dict(enable=False, base_batch_size=32)
