# Joint training (no balancing) on UCF-101, split 1: TSN RGB and optical
# flow streams (ImageNet ResNet-18 each, 3 segments), concatenation fusion.
# Selection on the held-out part of the training split; the official test
# list is reported (--test-best, tools/test.py).
_base_ = [
    '_base_/default_runtime.py', '_base_/schedules/sgd_90e.py',
    '_base_/datasets/ucf101_rgb_flow.py', '_base_/models/tsn_r18_rgb_flow.py'
]
