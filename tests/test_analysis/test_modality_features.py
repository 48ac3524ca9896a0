"""Per-modality features of a data set for the analyses: in data set order,
the encoders' eval-mode outputs, whatever the batch size."""
import os.path as osp

import numpy as np
import torch
from conftest import REPO
from mmengine.config import Config
from mmengine.dataset import pseudo_collate

from mmdr.analysis import extract_modality_features
from mmdr.registry import DATASETS, MODELS
from mmdr.utils import register_all_modules

register_all_modules()


def test_features_and_labels_in_data_set_order(mfeat_root):
    cfg = Config.fromfile(osp.join(REPO, 'configs/jt_mfeat.py'))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    dataset_cfg = dict(cfg.val_dataloader.dataset, data_root=mfeat_root)
    feats, labels = extract_modality_features(model, dataset_cfg, 5)
    dataset = DATASETS.build(dataset_cfg)
    assert labels.tolist() == [
        int(line.split()[1]) for line in open(osp.join(mfeat_root, 'val.txt'))
    ]
    batch = model.data_preprocessor(
        pseudo_collate([dataset[i] for i in range(len(dataset))]))
    model.eval()
    with torch.no_grad():
        for m in ('fou', 'kar', 'mor'):
            want = model.encoders[m](batch['inputs'][m]).numpy()
            np.testing.assert_allclose(feats[m], want, rtol=1e-6, atol=1e-6)
    # The batch size does not change a row; a subset of the modalities.
    subset, same = extract_modality_features(
        model, dataset_cfg, batch_size=64, modalities=['kar'])
    assert list(subset) == ['kar'] and same.tolist() == labels.tolist()
    np.testing.assert_allclose(subset['kar'], feats['kar'], atol=1e-6)
