# CMU-MOSI: the word-aligned feature pickle of the Multimodal Transformer
# line of work (mosi_data.pkl: 'train' / 'valid' / 'test', each with
# 'text', 'audio', 'vision' of shape (N, 50, d) and 'labels' (N, 1, 1) in
# [-3, 3]), placed at data/mosi/mosi_data.pkl and converted once into the
# memory-mapped arrays of data/mosi/mosi_data/ with
# python tools/data/cmu_mosi/convert_mult_pickle.py data/mosi/mosi_data.pkl
# The official split is used as given; 'valid' is the validation split
# (model selection, D&R diagnosis).
# Task: 'binary' (negative vs non-negative), 'seven' (Acc-7 classes) or
# 'regression' (the head regresses the score; D&R clusters the binarised
# labels, k = 2).
dataset_type = 'CMUMOSIDataset'
data_root = 'data/mosi'
ann_file = 'mosi_data'
task = 'binary'
# The sequences are memory-mapped arrays: packing only (the score goes with
# the sample for the metrics and the regression head).
pipeline = [
    dict(type='PackMultiModalInputs', meta_keys=('sample_idx', 'sentiment'))
]

# MulT's batch of 24 (main.py defaults, Tsai et al., ACL 2019). Loading is
# slicing memory-mapped arrays: no workers.
train_dataloader = dict(
    batch_size=24,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file=ann_file,
        split='train',
        task=task,
        pipeline=pipeline))
val_dataloader = dict(
    batch_size=64,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file=ann_file,
        split='valid',
        task=task,
        pipeline=pipeline,
        test_mode=True))
test_dataloader = dict(
    batch_size=64,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file=ann_file,
        split='test',
        task=task,
        pipeline=pipeline,
        test_mode=True))

# Acc-2 in both conventions (negative vs non-negative; negative vs positive
# with zeros excluded: *_nonzero), weighted and macro F1.
val_evaluator = dict(type='SentimentMetric')
test_evaluator = val_evaluator
