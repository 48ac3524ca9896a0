# Joint training (no balancing) on UPMC Food-101, image + text: a ResNet-18
# on the image and an MLP on the text's bag of words (no package beyond
# mmdr's; jt_food101_bert.py has a local BERT), concatenation fusion;
# BalanceBenchmark's AdamW at a constant rate, 30 epochs, batch 32.
# Selection on the validation carve of the release's training part, the
# release's test part reported (--test-best, tools/test.py).
_base_ = [
    '_base_/default_runtime.py', '_base_/schedules/adamw_30e_constant.py',
    '_base_/datasets/food101.py', '_base_/models/resnet18_bow_image_text.py'
]
