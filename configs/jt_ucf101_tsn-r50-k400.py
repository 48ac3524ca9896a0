# jt_ucf101.py with both streams initialised from mmaction2's
# Kinetics-400 TSN ResNet-50 (model zoo, RGB, 1x1x3 segments, 100 epochs);
# the flow stream gets its conv1 by cross-modality initialisation.
_base_ = ['./jt_ucf101.py']

tsn_r50_k400 = ('https://download.openmmlab.com/mmaction/v1.0/recognition/tsn/'
                'tsn_imagenet-pretrained-r50_8xb32-1x1x3-100e_kinetics400-rgb/'
                'tsn_imagenet-pretrained-r50_8xb32-1x1x3-100e_kinetics400-rgb_'
                '20220906-cd10898e.pth')

model = dict(
    encoders=dict(
        rgb=dict(
            feat_dim=2048,
            backbone=dict(depth=50),
            # A recogniser checkpoint: take its backbone.
            init_cfg=dict(
                type='Pretrained', checkpoint=tsn_r50_k400,
                prefix='backbone.')),
        flow=dict(
            feat_dim=2048,
            backbone=dict(depth=50),
            init_cfg=dict(
                type='Pretrained', checkpoint=tsn_r50_k400,
                prefix='backbone.'))))
