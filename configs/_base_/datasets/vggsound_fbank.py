# VGGSound (309 classes) with precomputed filterbanks: audio/<name>.pt, written by
# prepare_vggsound.py --audio fbank (or both); the visual branches of
# vggsound.py, LoadAudioFeatureFile for audio (kinetics_sounds_fbank.py).
_base_ = ['./kinetics_sounds_fbank.py']

dataset_type = 'VGGSoundDataset'
data_root = 'data/vggsound'

train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
test_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
