# jt_ucf101.py tested with mmaction2's TSN protocol instead of the fast
# single clip:
#   python tools/test.py configs/jt_ucf101_tsn-test.py CHECKPOINT
# 25 segments, three 256 x 256 crops along the long side of the frames
# resized to a short side of 256 (ThreeCrop, as mmaction2's TSN tests), one
# sample per batch (75 RGB frames and 75 flow stacks). The encoders average
# their pooled features over all 75 views; with the linear head that equals
# averaging the class scores (mmaction2's average_clips='score'). TenCrop
# would also flip, which for flow must negate x; ThreeCrop needs no flip.
_base_ = ['./jt_ucf101.py']

tsn_test_pipeline = [
    dict(
        type='SampleFrames',
        clip_len={{_base_.flow_clip_len}},
        frame_interval=1,
        num_clips=25,
        test_mode=True),
    dict(
        type='ModalityPipeline',
        key='rgb',
        overrides={{_base_.rgb}},
        transforms=[
            dict(type='SelectClipFrames', num=1),
            dict(type='FrameDecode'),
            dict(type='Resize', scale=(-1, {{_base_.short_side}})),
            dict(type='ThreeCrop', crop_size={{_base_.short_side}}),
            dict(type='FormatShape', input_format='NCHW')
        ]),
    dict(
        type='ModalityPipeline',
        key='flow',
        overrides={{_base_.flow}},
        transforms=[
            dict(type='RawFrameDecode'),
            dict(type='Resize', scale=(-1, {{_base_.short_side}})),
            dict(type='ThreeCrop', crop_size={{_base_.short_side}}),
            dict(type='FormatShape', input_format='NCHW_Flow')
        ]),
    dict(type='PackMultiModalInputs')
]
test_dataloader = dict(batch_size=1, dataset=dict(pipeline=tsn_test_pipeline))
