# Kinetics-Sounds with precomputed filterbanks: audio/<name>.pt (prepare
# them with prepare_kinetics_sounds.py --audio fbank) or OGM-GE's
# audio_spec/<name>.npy (its process_audio.py), float32 (1024, 128); the
# data set finds the folder and suffix among the files.
_base_ = ['./kinetics_sounds.py']

# The visual branches of kinetics_sounds.py, LoadAudioFeatureFile for audio.
train_dataloader = dict(
    dataset=dict(pipeline=[{{_base_.visual_train}},
                           dict(type='LoadAudioFeatureFile'),
                           dict(type='PackMultiModalInputs')]))
val_dataloader = dict(
    dataset=dict(pipeline=[{{_base_.visual_test}},
                           dict(type='LoadAudioFeatureFile'),
                           dict(type='PackMultiModalInputs')]))
test_dataloader = val_dataloader
