# Three modalities of the Multiple Features digits, one of them scarcely
# informative (D&R's Figure 1a): the views fou and mor, and a third modality
# of fixed per-sample Gaussian noise in the place of the view kar (64 wide,
# with the mean and standard deviation of kar's training split, 0.054 and
# 2.65, measured on the prepared data/mfeat). The data set names its
# modalities after the views it loads, so the noise keeps kar's name and
# width; seeded by the real kar vector and `seed`, it is the same in every
# epoch and on every rank and holds no class information. The informative
# views are jt_mfeat_fou_mor.py's: comparing the two shows what a noise
# modality costs each method. Otherwise as jt_mfeat.py.
_base_ = ['./jt_mfeat.py']

pipeline = [
    dict(type='FixedNoise', key='kar', mean=0.054, std=2.65, seed=0),
    dict(type='PackMultiModalInputs')
]

train_dataloader = dict(dataset=dict(pipeline=pipeline))
val_dataloader = dict(dataset=dict(pipeline=pipeline))
test_dataloader = dict(dataset=dict(pipeline=pipeline))
