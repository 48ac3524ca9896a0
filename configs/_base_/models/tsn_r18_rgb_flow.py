# Two TSN streams, RGB and optical flow, each an ImageNet-pretrained
# ResNet-18 (as the authors' UCF-101 code), concatenation fusion, one linear
# classifier. The checkpoint is torchvision's; the encoders map its key
# names to mmaction2's ResNet (as mmaction2's torchvision:// loading does),
# and the flow stream, with 2L input channels, gets the RGB conv1 by
# cross-modality initialisation (averaged over input channels).
imagenet_resnet18 = 'https://download.pytorch.org/models/resnet18-f37072fd.pth'
flow_channels = 10  # 2 x flow_clip_len of the data set config

model = dict(
    type='MultiModalRecognizer',
    data_preprocessor=dict(
        type='MultiModalDataPreprocessor',
        preprocessors=dict(
            rgb=dict(
                type='ActionDataPreprocessor',
                mean=[123.675, 116.28, 103.53],
                std=[58.395, 57.12, 57.375],
                format_shape='NCHW'),
            # Flow JPEGs map [-20, 20] to [0, 255]: 128 is no motion.
            flow=dict(
                type='ActionDataPreprocessor',
                mean=[128.0] * flow_channels,
                std=[128.0] * flow_channels,
                format_shape='NCHW'))),
    encoders=dict(
        rgb=dict(
            type='FrameEncoder',
            feat_dim=512,
            backbone=dict(type='ResNet', depth=18, pretrained=None),
            init_cfg=dict(type='Pretrained', checkpoint=imagenet_resnet18)),
        flow=dict(
            type='FrameEncoder',
            feat_dim=512,
            backbone=dict(
                type='ResNet',
                depth=18,
                in_channels=flow_channels,
                pretrained=None),
            init_cfg=dict(type='Pretrained', checkpoint=imagenet_resnet18))),
    fusion=dict(type='ConcatFusion'),
    cls_head=dict(
        type='LinearClsHead', num_classes=101, dropout=0.5, topk=(1, 5)))
