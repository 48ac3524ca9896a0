# CMU-MOSEI in the same pickle format (MulT's mosei_senti_data.pkl, about
# 23,000 utterances), at data/mosei/mosei_senti_data.pkl, converted once
# into data/mosei/mosei_senti_data/ with
# python tools/data/cmu_mosi/convert_mult_pickle.py \
#     data/mosei/mosei_senti_data.pkl
_base_ = ['./mosi.py']
dataset_type = 'CMUMOSEIDataset'
data_root = 'data/mosei'
ann_file = 'mosei_senti_data'
train_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, ann_file=ann_file))
val_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, ann_file=ann_file))
test_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, ann_file=ann_file))
