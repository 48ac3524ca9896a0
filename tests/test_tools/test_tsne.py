"""tools/analysis/tsne.py on a checkpoint of a real run, as a user runs it."""
import os.path as osp

import matplotlib.image as mpimg
import numpy as np
import pytest
import torch
from conftest import REPO, data_root_cfg_options
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from runs import parse_options, run_tool

from mmdr.analysis import checkpoint_tsne, subsample_indices, tsne_embed
from mmdr.registry import DATASETS, MODELS
from mmdr.utils import register_all_modules

CONFIG = osp.join(REPO, 'configs', 'jt_mfeat.py')


@pytest.fixture
def checkpoint(jt_mfeat_checkpoint):
    return jt_mfeat_checkpoint


@pytest.mark.slow
def test_embedding_of_a_training_subset(mfeat_root, checkpoint, tmp_path):
    out, data = tmp_path / 'tsne.png', tmp_path / 'tsne.npz'
    result = run_tool('analysis/tsne.py', CONFIG, checkpoint, '--split',
                      'train', '--max-samples', '30', '--out', out,
                      '--data-out', data, '--name', 'mfeat, 2 epochs',
                      '--cfg-options', *data_root_cfg_options(mfeat_root))
    assert result.returncode == 0, result.stderr[-3000:]
    # Three modality panels, 10 classes: 13.5 x 5.25 inches at 120 dpi.
    assert f'Wrote {out} (1620 x 630 pixels)' in result.stdout
    assert mpimg.imread(out).shape[:2] == (630, 1620)
    # The title names the run (--name) on its first line, the checkpoint on
    # its second; printed on one line.
    assert ('t-SNE of pooled features: mfeat, 2 epochs, '
            'epoch 2 (epoch_2.pth), '
            'train split, 30 samples; perplexity 9.66667, seed 0') \
        in result.stdout
    saved = np.load(data)
    assert list(saved['class_names']) == [str(c) for c in range(10)]
    # The seeded subset of the 84 training samples.
    np.testing.assert_array_equal(saved['indices'],
                                  subsample_indices(84, 30, seed=0))

    # The same embedding computed here, apart from the tool: checkpoint
    # weights, those samples of the training split (validation pipeline),
    # scikit-learn's t-SNE with the same seed.
    register_all_modules()
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict(parse_options(data_root_cfg_options(mfeat_root)))
    model = MODELS.build(cfg.model)
    model.load_state_dict(torch.load(checkpoint)['state_dict'])
    dataset = DATASETS.build(
        dict(
            cfg.train_dataloader.dataset,
            pipeline=cfg.val_dataloader.dataset.pipeline,
            test_mode=True))
    batch = pseudo_collate([dataset[int(i)] for i in saved['indices']])
    np.testing.assert_array_equal(
        saved['labels'],
        [int(s.gt_labels.item) for s in batch['data_samples']])
    feats = model.extract_modality_features(batch)
    assert list(feats) == ['fou', 'kar', 'mor']
    for m, f in feats.items():
        embedding = saved[f'embedding_{m}']
        assert embedding.shape == (30, 2)
        np.testing.assert_allclose(
            embedding, tsne_embed(f.numpy(), seed=0), rtol=1e-4, atol=1e-3)


def test_bad_arguments_are_refused(mfeat_root, checkpoint):
    # What tools/analysis/tsne.py reports as "tsne.py: <message>".
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict(parse_options(data_root_cfg_options(mfeat_root)))
    with pytest.raises(
            ValueError, match='max_samples=1: t-SNE needs at '
            'least 2 samples'):
        checkpoint_tsne(cfg, checkpoint, max_samples=1)
    with pytest.raises(ValueError, match="split='dev' is not one of"):
        checkpoint_tsne(cfg, checkpoint, split='dev')
