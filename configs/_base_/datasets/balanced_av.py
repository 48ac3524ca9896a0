# BalancedAV (30 classes) prepared from the release with
#   python tools/data/balanced_av/prepare_balanced_av.py \
#       --videos <clips> --annotations <annotation json> --out data/balanced_av
# (train with --data-root DIR). The pipelines, loaders, batch sizes and
# metrics of Kinetics-Sounds (kinetics_sounds.py: 3 frames at 1 fps, the
# 128-bin Kaldi filterbank of the 16 kHz waveform padded or cut to 1,024
# frames). Split 'reference': our seeded, stratified carve of the training
# list (whole YouTube videos) for training and validation, the release's
# test clips for testing. Clips the preparation could not prepare (videos
# missing, no audio track, cut files) are named in skipped.txt and left out
# with a warning that counts them.
_base_ = ['./kinetics_sounds.py']

dataset_type = 'BalancedAVDataset'
data_root = 'data/balanced_av'

train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
test_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
