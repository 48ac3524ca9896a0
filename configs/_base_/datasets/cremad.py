# CREMA-D in the layout its users have (found from the files and logged):
# the D&R authors' processed data or the tree that
#   python tools/data/cremad/prepare_cremad.py --root data/cremad
# writes from the public release (visual/<clip>/frame_00001.jpg,
# audio/<clip>.wav), or OGM-GE's (Image-01-FPS/<clip>/00000.jpg ...,
# AudioWAV/<clip>.wav); train with --data-root DIR.
# Visual: 2 frames per clip at 1 fps (random within 2 segments for
# training, segment centres otherwise), RandomResizedCrop 224 + flip for
# training, resize to 224 otherwise (mmaction2 transforms; ImageNet
# normalisation in the model's data preprocessor). Audio: OGM-GE's
# published recipe: the waveform at 22,050 Hz (CREMA-D's 16 kHz WAV files
# resampled with soxr HQ, as the reference's librosa.load(sr=22050) does)
# tiled or cut to 3 s, log(|STFT| + 1e-7) with n_fft 512, hop 353
# -> (1, 257, 188).
# cremad_fbank.py reads the reference's precomputed .pt filterbanks instead.
#
# Splits (split = ...): 'reference' trains on the authors' my_train.csv,
# selects on val.csv and reports test.csv; 'carve' uses our seeded,
# stratified carve of train.csv; 'speaker' is speaker-disjoint (the other
# two have all 91 actors on both sides). Lists that are not on disk are
# made in memory from those that are, as prepare_cremad.py writes them
# (without my_train.csv and val.csv, 'reference' validates on the carve).
# In a derived config set the split of all three loaders, e.g.
#   train_dataloader = dict(dataset=dict(split='speaker')), and val/test.
# Clips the preparation could not use (its skipped.txt, read where it
# exists) are left out of every split with a warning counting them; add
# your own lists with skip_list='file' or skip_list=['a', 'b'].
dataset_type = 'CREMADDataset'
data_root = 'data/cremad'
split = 'reference'
num_frames = 2
crop_size = 224

visual_train = dict(
    type='ModalityPipeline',
    key='visual',
    transforms=[
        dict(
            type='SampleFrames',
            clip_len=1,
            frame_interval=1,
            num_clips=num_frames),
        dict(type='RawFrameDecode'),
        dict(type='RandomResizedCrop'),
        dict(type='Resize', scale=(crop_size, crop_size), keep_ratio=False),
        dict(type='Flip', flip_ratio=0.5),
        dict(type='FormatShape', input_format='NCHW')
    ])
visual_test = dict(
    type='ModalityPipeline',
    key='visual',
    transforms=[
        dict(
            type='SampleFrames',
            clip_len=1,
            frame_interval=1,
            num_clips=num_frames,
            test_mode=True),
        dict(type='RawFrameDecode'),
        dict(type='Resize', scale=(crop_size, crop_size), keep_ratio=False),
        dict(type='FormatShape', input_format='NCHW')
    ])
# Deterministic, so the same for every split. To compute it once and reuse
# it, wrap it: dict(type='CachedAudioFeature', cache_dir=...,
# transforms=audio_frontend); the cache follows the settings.
audio_frontend = [
    dict(type='LoadWaveform', sample_rate=22050, duration=3.0, resample=True),
    dict(type='LogSpectrogram', n_fft=512, hop_length=353, out_key='audio')
]
train_pipeline = [
    visual_train, *audio_frontend,
    dict(type='PackMultiModalInputs')
]
test_pipeline = [
    visual_test, *audio_frontend,
    dict(type='PackMultiModalInputs')
]

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
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=64,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split=split,
        subset='val',
        pipeline=test_pipeline,
        test_mode=True))
test_dataloader = dict(
    batch_size=64,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split=split,
        subset='test',
        pipeline=test_pipeline,
        test_mode=True))

# Accuracy (the selection metric) and macro / weighted F1, as the
# reference prints them.
val_evaluator = [dict(type='AccMetric'), dict(type='F1Metric')]
test_evaluator = val_evaluator
