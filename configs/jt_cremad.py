# Joint training (no balancing) on CREMA-D with the reference code's model
# and optimisation: ResNet-18 per modality from scratch, concatenation
# fusion; SGD 0.002, 90 epochs, batch 64. Both jt_ and dr_ train with the
# same augmentation (the reference's D&R script trains without it, its
# baseline with it; one pipeline keeps the comparison fair). Selection on
# validation (val.csv), test.csv reported (--test-best, tools/test.py).
_base_ = [
    '_base_/default_runtime.py', '_base_/schedules/sgd_90e.py',
    '_base_/datasets/cremad.py', '_base_/models/resnet18_audio_visual.py'
]
