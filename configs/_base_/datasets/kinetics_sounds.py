# Kinetics-Sounds (31 classes) in OGM-GE's layout (found from the files and
# logged: OGM-GE's my_train.txt / my_test.txt with visual/ frames and audio/
# WAV files, or the tree prepared from the user's Kinetics-400 clips with
#   python tools/data/kinetics_sounds/prepare_kinetics_sounds.py \
#       --videos <clips> --annotations <Kinetics-400 csv> \
#       --out data/kinetics_sounds
# ); train with --data-root DIR.
# Visual: 3 frames per clip at 1 fps (random within 3 segments for
# training, segment centres otherwise), RandomResizedCrop 224 + flip for
# training, resize to 224 otherwise. Audio: the filterbank of OGM-GE's
# Kinetics-Sounds script, computed from the 16 kHz waveform: 128-bin Kaldi
# fbank, 10 ms shift, padded or cut to 1,024 frames, normalised as
# (x + 4.503877) / (2 x 5.141276) -> (1, 1024, 128).
#
# Splits (split = ...): 'reference' tests on my_test.txt (the list of this
# line of work), 'kinetics' on the Kinetics-400 validation clips
# (mmdr_test.txt); validation is our seeded, stratified carve of the
# training list in both (made in memory, as the preparation writes it, when
# mmdr_carve_*.txt are absent). The lists of this line of work name clips
# that users often lack (videos gone from YouTube); the preparation names
# them in skipped.txt, and the data sets leave them out with a warning
# counting them (and, without skipped.txt, those with neither frames nor
# audio). skip_list as in cremad.py.
# Loaders, batch sizes and metrics as CREMA-D's.
_base_ = ['./cremad.py']

dataset_type = 'KineticsSoundsDataset'
data_root = 'data/kinetics_sounds'
split = 'reference'
num_frames = 3

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
        dict(type='Resize', scale=(224, 224), keep_ratio=False),
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
        dict(type='Resize', scale=(224, 224), keep_ratio=False),
        dict(type='FormatShape', input_format='NCHW')
    ])
audio_frontend = [
    # The whole clip, not tiled: the filterbank is zero-padded instead.
    dict(type='LoadWaveform', sample_rate=16000, duration=None, resample=True),
    dict(type='KaldiFbank', num_mel_bins=128, target_length=1024)
]
train_pipeline = [
    visual_train, *audio_frontend,
    dict(type='PackMultiModalInputs')
]
test_pipeline = [
    visual_test, *audio_frontend,
    dict(type='PackMultiModalInputs')
]

train_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split=split,
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split=split,
        pipeline=test_pipeline))
test_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split=split,
        pipeline=test_pipeline))
