# D&R twin of jt_food101.py: the same model, data and schedule, plus
# Diagnosing & Re-learning. The D&R paper has no image-text data set; its
# closest setting is UCF-101 (101 classes, an image encoder), trained on
# the reference schedule (after epochs 21, 41 and 61 of 90, lambda 3),
# here scaled to 30 epochs as dr_mosi.py scales it to 40: after epochs 7,
# 14 and 21, lambda 3, every training sample diagnosed against the
# validation carve.
_base_ = ['./jt_food101.py']
custom_hooks = [dict(type='DRHook', begin=7, interval=7, max_times=3, lam=3.0)]
