# MulT's optimisation (main.py defaults, Tsai et al., ACL 2019): Adam, lr
# 1e-3, gradient norm clipped at 0.8, 40 epochs. MulT lowers the rate ten
# times when the validation loss has not improved for 20 epochs, which in a
# 40-epoch run happens at most once, late; the rate stays constant here.
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=40, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

# BalancedOptimWrapper is mmengine's OptimWrapper plus the place where a
# model.balancer (OGM-GE, MMPareto) changes gradients before the step.
optim_wrapper = dict(
    type='BalancedOptimWrapper',
    optimizer=dict(type='Adam', lr=1e-3),
    clip_grad=dict(max_norm=0.8))
param_scheduler = []

auto_scale_lr = dict(enable=False, base_batch_size=24)
