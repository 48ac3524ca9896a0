# AV-Digits with a scarcely informative audio modality (D&R's Figure 1a: a
# modality with almost no class information). Every sample's audio
# spectrogram is replaced by Gaussian noise of the same shape, fixed per
# sample (seeded by the real spectrogram's content and `seed`: the same in
# every epoch, on every rank), with the mean and standard deviation of the
# real spectrograms of the training split (-0.102 and 0.877, measured on
# data/avdigits). The audio encoder can memorise its training noise, as it
# could a real uninformative sensor, but learns nothing that transfers.
# Otherwise as jt_avdigits.py.
_base_ = ['./jt_avdigits.py']

pipeline = [
    dict(type='LoadImageFromFile', color_type='grayscale'),
    dict(type='ImageToFloat', out_key='visual'),
    dict(type='LoadWaveform', sample_rate=22050, duration=1.0),
    dict(type='LogSpectrogram', n_fft=512, hop_length=353, out_key='audio'),
    dict(type='FixedNoise', key='audio', mean=-0.10, std=0.88, seed=0),
    dict(type='PackMultiModalInputs')
]

train_dataloader = dict(dataset=dict(pipeline=pipeline))
val_dataloader = dict(dataset=dict(pipeline=pipeline))
test_dataloader = dict(dataset=dict(pipeline=pipeline))
