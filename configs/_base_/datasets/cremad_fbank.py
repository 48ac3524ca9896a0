# CREMA-D with the reference's precomputed filterbanks: audio/<clip>.pt,
# float32 (1024, 128), as the reference code loads them (prepare them with
# prepare_cremad.py --audio fbank, or use the authors' files as they are;
# their recipe is not published beyond the maintainers' pointer to OGM-GE's
# Kinetics-Sounds script, which prepare_cremad.py follows). The data set
# finds the suffix (.pt, else .npy) among the files.
_base_ = ['./cremad.py']

audio_frontend = [dict(type='LoadAudioFeatureFile')]
train_pipeline = [{{_base_.visual_train}}, *audio_frontend,
                  dict(type='PackMultiModalInputs')]
test_pipeline = [{{_base_.visual_test}}, *audio_frontend,
                 dict(type='PackMultiModalInputs')]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
