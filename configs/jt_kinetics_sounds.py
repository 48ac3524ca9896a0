# Joint training (no balancing) on Kinetics-Sounds (31 classes) with the
# reference settings of CREMA-D: ResNet-18 per modality from scratch,
# concatenation fusion; SGD 0.002, 90 epochs, batch 64. Selection on our
# validation carve of the training list, my_test.txt reported.
_base_ = [
    '_base_/default_runtime.py', '_base_/schedules/sgd_90e.py',
    '_base_/datasets/kinetics_sounds.py',
    '_base_/models/resnet18_audio_visual.py'
]
model = dict(cls_head=dict(num_classes=31))
