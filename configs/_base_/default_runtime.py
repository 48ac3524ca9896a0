default_scope = 'mmdr'

default_hooks = dict(
    runtime_info=dict(type='RuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20, ignore_last=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # Model selection on the validation metric; the test split is only
    # reported (tools/train.py --test-best, tools/test.py).
    checkpoint=dict(
        type='CheckpointHook',
        interval=1,
        save_best='acc/top1',
        rule='greater',
        max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    modality_check=dict(type='ModalityCheckHook'),
    # The balancing method's step before every epoch (PMR's prototypes);
    # nothing for a model without model.balancer.
    balancer=dict(type='BalancerHook'),
    # Saves every rank's random generator states in checkpoints and restores
    # them on --resume, so a resumed run is bit-identical to an
    # uninterrupted one (CPU, num_workers=0 or non-persistent workers).
    random_state=dict(type='RandomStateHook'))

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))

log_processor = dict(type='LogProcessor', window_size=20, by_epoch=True)

# TensorBoard event files go to <work_dir>/<timestamp>/vis_data next to
# mmengine's own logs.
vis_backends = [
    dict(type='LocalVisBackend'),
    dict(type='TensorboardVisBackend')
]
visualizer = dict(type='Visualizer', vis_backends=vis_backends)

log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0, deterministic=False)
