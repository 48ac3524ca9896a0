# UCI Multiple Features digits; prepare with
#   python tools/data/mfeat/prepare_mfeat.py
# A config that inherits this one sets the views of all three splits, e.g.
#   train_dataloader = dict(dataset=dict(views=views)), likewise val/test.
dataset_type = 'MultipleFeaturesDataset'
data_root = 'data/mfeat'
pipeline = [dict(type='PackMultiModalInputs')]

train_dataloader = dict(
    batch_size=64,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='train.txt',
        views=('fou', 'kar'),
        pipeline=pipeline))
val_dataloader = dict(
    batch_size=200,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='val.txt',
        views=('fou', 'kar'),
        pipeline=pipeline,
        test_mode=True))
test_dataloader = dict(
    batch_size=200,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='test.txt',
        views=('fou', 'kar'),
        pipeline=pipeline,
        test_mode=True))

val_evaluator = dict(type='AccMetric')
test_evaluator = val_evaluator
