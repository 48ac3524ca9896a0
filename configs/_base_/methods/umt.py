# UMT, uni-modal teachers (Du et al., ICML 2023): the fused loss plus, per
# modality, weight x MSE between the encoder's pooled features and those of
# the same encoder trained on that modality alone (a frozen teacher). With no
# code of the authors' to follow, weight 10 and the MSE on the encoders'
# outputs are BalanceMM's (UMT_trainer.py, `scaling` in trainer_config.yaml).
# What tools/analysis/benchmark.py adds to a joint-training config.
#
# The teachers are the best checkpoints of two runs of the joint-training
# config on one modality each (the benchmark's `alone` runs), made first:
#   python tools/train.py configs/jt_avdigits.py \
#       --work-dir work_dirs/avdigits_alone-audio \
#       --cfg-options "model.modalities=[audio]"
# and the same with visual; each teacher names a run's work dir (its one
# best_*.pth) or a checkpoint file. These are AV-Digits' runs; on another
# setting give its own with --cfg-options model.balancer.teachers.<m>=...
model = dict(
    balancer=dict(
        type='UMT',
        teachers=dict(
            audio='work_dirs/avdigits_alone-audio',
            visual='work_dirs/avdigits_alone-visual'),
        weight=10.0))
