# UPMC Food-101 (image + text of web pages, 101 classes) in the layout of
# the public release (images/{train,test}/<class>/<name>.jpg,
# texts/{train,test}_titles.csv), prepared once with
#   python tools/data/food101/prepare_food101.py --root data/food101
# which checks every image and text and writes mmdr_{train,val,test}.json
# (validation: a stratified carve of the release's training part, seed 0;
# test: the release's test part) and mmdr_vocab.txt (the training list's
# most frequent words); train with --data-root DIR.
# Visual: one image, resized to 224 x 224 (BalanceBenchmark's
# FOOD101Dataset; its RandomRotation(30) has no mmaction2 transform and is
# left out), flipped for training (mmaction2 transforms; ImageNet
# normalisation in the model's data preprocessor). Text: BalanceBenchmark's
# cleaning, then the 0/1 bag of the vocabulary's words (no extra package;
# configs/*_food101_bert.py tokenise for a local BERT instead).
dataset_type = 'Food101Dataset'
data_root = 'data/food101'
crop_size = 224
# The text encoder's input width (the tool's --vocab-size).
vocab_size = 10000

visual_train = dict(
    type='ModalityPipeline',
    key='visual',
    # mmaction2's Flip reads the modality.
    overrides=dict(modality='RGB'),
    transforms=[
        dict(type='ImageDecode'),
        dict(type='Resize', scale=(crop_size, crop_size), keep_ratio=False),
        dict(type='Flip', flip_ratio=0.5),
        dict(type='FormatShape', input_format='NCHW')
    ])
visual_test = dict(
    type='ModalityPipeline',
    key='visual',
    # mmaction2's Flip reads the modality.
    overrides=dict(modality='RGB'),
    transforms=[
        dict(type='ImageDecode'),
        dict(type='Resize', scale=(crop_size, crop_size), keep_ratio=False),
        dict(type='FormatShape', input_format='NCHW')
    ])
text_step = dict(type='BagOfWords', vocab_size=vocab_size)
train_pipeline = [visual_train, text_step, dict(type='PackMultiModalInputs')]
test_pipeline = [visual_test, text_step, dict(type='PackMultiModalInputs')]

# BalanceBenchmark's batch of 32 on one process; with several processes
# keep the total with batch_size or rescale the rate with --auto-scale-lr.
train_dataloader = dict(
    batch_size=32,
    num_workers=8,
    persistent_workers=True,
    # A last batch of one sample would stop the text MLP's BatchNorm.
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='mmdr_train.json',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=64,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='mmdr_val.json',
        pipeline=test_pipeline,
        test_mode=True))
test_dataloader = dict(
    batch_size=64,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='mmdr_test.json',
        pipeline=test_pipeline,
        test_mode=True))

val_evaluator = [dict(type='AccMetric'), dict(type='F1Metric')]
test_evaluator = val_evaluator
