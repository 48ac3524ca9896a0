# The reference code's audio-visual model: a ResNet-18 per modality from
# scratch (mmaction2's ResNet), the audio one with 1 input channel for the
# spectrogram; the visual one runs on every frame (frames folded into the
# batch) and its features are averaged over frames and space;
# concatenation fusion (512 + 512) into one linear classifier.
num_classes = 6
model = dict(
    type='MultiModalRecognizer',
    data_preprocessor=dict(
        type='MultiModalDataPreprocessor',
        preprocessors=dict(
            audio=dict(type='ActionDataPreprocessor', format_shape='NCHW'),
            # ImageNet statistics on 0..255 pixels (the reference's
            # ToTensor + Normalize).
            visual=dict(
                type='ActionDataPreprocessor',
                mean=[123.675, 116.28, 103.53],
                std=[58.395, 57.12, 57.375],
                format_shape='NCHW'))),
    encoders=dict(
        audio=dict(
            type='SpectrogramEncoder',
            feat_dim=512,
            backbone=dict(
                type='ResNet', depth=18, in_channels=1, pretrained=None)),
        visual=dict(
            type='FrameEncoder',
            feat_dim=512,
            backbone=dict(type='ResNet', depth=18, pretrained=None))),
    fusion=dict(type='ConcatFusion'),
    cls_head=dict(type='LinearClsHead', num_classes=num_classes, topk=(1, )))
