# Joint training (no balancing) on CMU-MOSI, binary sentiment: a transformer
# encoder per modality (text, audio, vision), concatenation fusion. Selection
# on the validation split's Acc-2 (negative vs non-negative); the test
# split is reported with both Acc-2 conventions and F1 (--test-best,
# tools/test.py).
_base_ = [
    '_base_/default_runtime.py', '_base_/schedules/adam_40e_mult.py',
    '_base_/datasets/mosi.py', '_base_/models/transformer_text_audio_vision.py'
]
default_hooks = dict(checkpoint=dict(save_best='sentiment/acc2'))
