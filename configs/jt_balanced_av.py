# Joint training (no balancing) on BalancedAV (30 classes) with the
# settings of Kinetics-Sounds (jt_kinetics_sounds.py): ResNet-18 per
# modality from scratch, concatenation fusion; SGD 0.002, 90 epochs, batch
# 64. Selection on our validation carve of the "training" clips, the
# "testing" clips reported.
_base_ = [
    '_base_/default_runtime.py', '_base_/schedules/sgd_90e.py',
    '_base_/datasets/balanced_av.py', '_base_/models/resnet18_audio_visual.py'
]
model = dict(cls_head=dict(num_classes=30))
