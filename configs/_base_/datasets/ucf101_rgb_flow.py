# UCF-101 in mmaction2's layout, RGB and optical flow of each clip as two
# modalities (TSN-style): a tree made by mmaction2's tools (rawframes, or
# videos with flow rawframes; its lists; classInd.txt or not) or by
#   python tools/data/ucf101/prepare_ucf101.py --root data/ucf101
# and trained with the data root as the only option:
#   python tools/train.py configs/dr_ucf101.py --data-root data/ucf101
# Named subsets of split 1: training = the official training list minus a
# group-disjoint held-out carve; validation = that carve (model selection,
# D&R diagnosis): prepare_ucf101.py's mmdr_ucf101_{trainpart,holdout}_*
# lists, or the same carve made in memory from ucf101_train_split_1_*.txt
# (holdout_groups=2, carve_seed=0); test = the official test list, which
# mmaction2 names ucf101_val_split_1_*.txt. The format is that of the lists
# found (rawframes first).
dataset_type = 'UCF101Dataset'
data_root = 'data/ucf101'
split = 1
num_segments = 3
# Optical flow: a stack of L consecutive x/y pairs per segment (TSN, 2L
# input channels). L=1 gives one x/y pair, as in BalanceMM's UCF-101 code.
flow_clip_len = 5
crop_size = 224
short_side = 256

# One SampleFrames for both modalities: the segment positions are shared.
# RGB takes the first frame of every flow stack (SelectClipFrames).
train_sampling = dict(
    type='SampleFrames',
    clip_len=flow_clip_len,
    frame_interval=1,
    num_clips=num_segments)
test_sampling = dict(
    type='SampleFrames',
    clip_len=flow_clip_len,
    frame_interval=1,
    num_clips=num_segments,
    test_mode=True)
rgb = dict(modality='RGB', filename_tmpl='img_{:05}.jpg')
flow = dict(modality='Flow', filename_tmpl='flow_{}_{:05d}.jpg')

# RGB: from the frame folder or the video, whichever the data set found;
# flow: always from rawframes.
rgb_decode = dict(type='FrameDecode')
flow_decode = dict(type='RawFrameDecode')


def _train_branch(decode, fmt):
    return [
        decode,
        dict(type='Resize', scale=(-1, short_side)),
        dict(
            type='MultiScaleCrop',
            input_size=crop_size,
            scales=(1, 0.875, 0.75, 0.66),
            random_crop=False,
            max_wh_scale_gap=1),
        dict(type='Resize', scale=(crop_size, crop_size), keep_ratio=False),
        # Flip negates flow x when the sample's modality is 'Flow'.
        dict(type='Flip', flip_ratio=0.5),
        dict(type='FormatShape', input_format=fmt)
    ]


def _test_branch(decode, fmt):
    return [
        decode,
        dict(type='Resize', scale=(-1, short_side)),
        dict(type='CenterCrop', crop_size=crop_size),
        dict(type='FormatShape', input_format=fmt)
    ]


train_pipeline = [
    train_sampling,
    dict(
        type='ModalityPipeline',
        key='rgb',
        overrides=rgb,
        transforms=[dict(type='SelectClipFrames', num=1)] +
        _train_branch(rgb_decode, 'NCHW')),
    dict(
        type='ModalityPipeline',
        key='flow',
        overrides=flow,
        transforms=_train_branch(flow_decode, 'NCHW_Flow')),
    dict(type='PackMultiModalInputs')
]
# Fast single-clip evaluation: 3 segments, one centre crop.
val_pipeline = [
    test_sampling,
    dict(
        type='ModalityPipeline',
        key='rgb',
        overrides=rgb,
        transforms=[dict(type='SelectClipFrames', num=1)] +
        _test_branch(rgb_decode, 'NCHW')),
    dict(
        type='ModalityPipeline',
        key='flow',
        overrides=flow,
        transforms=_test_branch(flow_decode, 'NCHW_Flow')),
    dict(type='PackMultiModalInputs')
]
test_pipeline = val_pipeline

# The reference's batch of 64 clips on one process; with several processes
# keep the total with batch_size or rescale the rate with --auto-scale-lr.
train_dataloader = dict(
    batch_size=64,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split=split,
        subset='train',
        modalities=('rgb', 'flow'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split=split,
        subset='val',
        modalities=('rgb', 'flow'),
        pipeline=val_pipeline,
        test_mode=True))
test_dataloader = dict(
    batch_size=32,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split=split,
        subset='test',
        modalities=('rgb', 'flow'),
        pipeline=test_pipeline,
        test_mode=True))

val_evaluator = dict(type='AccMetric')
test_evaluator = val_evaluator
