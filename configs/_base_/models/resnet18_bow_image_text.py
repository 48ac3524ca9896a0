# Image + text model for UPMC Food-101 without extra packages: a ResNet-18
# on the image (mmaction2's ResNet through FrameEncoder, from scratch; to
# start from a local ImageNet checkpoint add to the visual encoder
#   init_cfg=dict(type='Pretrained', checkpoint='checkpoints/resnet18.pth')
# as the UCF-101 configs do), an MLP on the bag of words (the input
# batch-normalised, one hidden layer of 512), concatenation fusion
# (512 + 512) into one linear classifier over the 101 classes.
num_classes = 101
model = dict(
    type='MultiModalRecognizer',
    data_preprocessor=dict(
        type='MultiModalDataPreprocessor',
        preprocessors=dict(
            # ImageNet statistics on 0..255 RGB pixels (BalanceBenchmark's
            # ToTensor + Normalize).
            visual=dict(
                type='ActionDataPreprocessor',
                mean=[123.675, 116.28, 103.53],
                std=[58.395, 57.12, 57.375],
                format_shape='NCHW'),
            text=dict(type='ActionDataPreprocessor'))),
    encoders=dict(
        visual=dict(
            type='FrameEncoder',
            feat_dim=512,
            backbone=dict(type='ResNet', depth=18, pretrained=None)),
        text=dict(
            type='MLPEncoder',
            # BagOfWords' vocab_size in _base_/datasets/food101.py.
            in_channels=10000,
            hidden_channels=(512, ),
            dropout=0.1)),
    fusion=dict(type='ConcatFusion'),
    cls_head=dict(type='LinearClsHead', num_classes=num_classes, topk=(1, )))
