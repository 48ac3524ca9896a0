# BalancedAV (30 classes) with precomputed filterbanks: audio/<name>.pt, written by
# prepare_balanced_av.py --audio fbank (or both); the visual branches of
# balanced_av.py, LoadAudioFeatureFile for audio (kinetics_sounds_fbank.py).
_base_ = ['./kinetics_sounds_fbank.py']

dataset_type = 'BalancedAVDataset'
data_root = 'data/balanced_av'

train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
test_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
