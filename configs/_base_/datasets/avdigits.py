# AV-Digits: noisy 8x8 handwritten digits ('visual') paired with noisy
# spoken digit words ('audio'); generate with
#   python tools/data/avdigits/prepare_avdigits.py
# Both modalities are loaded in every pipeline. A model with fewer encoders
# ignores the other one, but its data_preprocessor must still name both
# (the default one names the encoders' modalities only), e.g.
#   data_preprocessor=dict(type='MultiModalDataPreprocessor', preprocessors=
#       dict(visual=dict(type='ActionDataPreprocessor'),
#            audio=dict(type='ActionDataPreprocessor')))
dataset_type = 'AVDigitsDataset'
data_root = 'data/avdigits'
pipeline = [
    # 8-bit grayscale PNG -> float32 (1, 8, 8) in [0, 1].
    dict(type='LoadImageFromFile', color_type='grayscale'),
    dict(type='ImageToFloat', out_key='visual'),
    # 16-bit WAV at 22,050 Hz, tiled/cut to 1 s -> log-magnitude STFT
    # (OGM-GE's CREMA-D settings), float32 (1, 257, 63).
    dict(type='LoadWaveform', sample_rate=22050, duration=1.0),
    dict(type='LogSpectrogram', n_fft=512, hop_length=353, out_key='audio'),
    dict(type='PackMultiModalInputs')
]

train_dataloader = dict(
    batch_size=64,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='train.txt',
        pipeline=pipeline))
val_dataloader = dict(
    batch_size=128,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='val.txt',
        pipeline=pipeline,
        test_mode=True))
test_dataloader = dict(
    batch_size=128,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='test.txt',
        pipeline=pipeline,
        test_mode=True))

val_evaluator = dict(type='AccMetric')
test_evaluator = val_evaluator
