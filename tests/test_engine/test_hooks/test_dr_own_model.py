"""D&R for a model of one's own: an mmengine ``BaseModel`` written without
:class:`MultiModalRecognizer` (and without a ``cls_head``), trained with
DRHook through tools/train.py from a config file.

What DRHook needs of a model (all it reads):

- ``model.encoders``: a mapping (e.g. ``nn.ModuleDict``) of modality name
  to encoder module; the encoders' parameters (and, with
  ``blend_buffers``, floating-point buffers) are what D&R blends;
- ``model.extract_modality_features(data_batch, modalities)``: the
  ``(N, D)`` pooled features of each named modality for a batch as the
  data loader yields it, computed in eval mode without gradients;
- ``gt_labels.item`` in the batch's ``data_samples`` (the labels the
  clustering purity is measured against);
- k, the number of clusters: the validation data set's
  ``metainfo['classes']``, else ``model.cls_head.num_classes``, else
  ``DRHook(num_clusters=...)``.
"""
import os.path as osp

import torch
import torch.nn.functional as F
from conftest import REPO, data_root_cfg_options
from mmengine.model import BaseModel
from runs import history, run_tool_main
from torch import nn

from mmdr.registry import MODELS

VIEWS = dict(fou=76, kar=64)


@MODELS.register_module(force=True)
class TwoViewMLP(BaseModel):
    """An MLP encoder per view, concatenated features, one linear layer.

    Args:
        feat_dim (int): Width of every encoder's features.
        num_classes (int): Classes of the linear layer.
        data_preprocessor (dict, optional): Stacks each view's batch.
    """

    def __init__(self, feat_dim=16, num_classes=10, data_preprocessor=None):
        super().__init__(data_preprocessor=data_preprocessor)
        self.encoders = nn.ModuleDict({
            view:
            nn.Sequential(
                nn.Linear(dim, feat_dim), nn.BatchNorm1d(feat_dim), nn.ReLU())
            for view, dim in VIEWS.items()
        })
        self.classifier = nn.Linear(feat_dim * len(VIEWS), num_classes)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        feats = [self.encoders[v](inputs[v]) for v in self.encoders]
        logits = self.classifier(torch.cat(feats, dim=1))
        if mode == 'loss':
            labels = torch.cat([s.gt_labels.item for s in data_samples])
            return dict(loss_cls=F.cross_entropy(logits, labels))
        if mode == 'predict':
            for sample, score in zip(data_samples, logits.softmax(dim=1)):
                sample.set_pred_score(score)
            return data_samples
        return logits

    @torch.no_grad()
    def extract_modality_features(self, data_batch, modalities=None):
        """What DRHook calls: per view the (N, feat_dim) features of a data
        loader batch, in eval mode."""
        was_training = self.training
        self.eval()
        try:
            inputs = self.data_preprocessor(data_batch)['inputs']
            return {
                v: self.encoders[v](inputs[v])
                for v in (modalities or self.encoders)
            }
        finally:
            self.train(was_training)


def _config(tmp_path):
    """jt_mfeat.py's data and schedule, the model above, DRHook re-learning
    the 'kar' encoder after epoch 1, and hooks that save the encoders just
    before and after the D&R step."""
    config = tmp_path / 'own_model_dr.py'
    config.write_text(
        f'_base_ = [{osp.join(REPO, "configs/jt_mfeat.py")!r}]\n'
        "custom_imports = dict(imports=['dr_test_hooks'], "
        'allow_failed_imports=False)\n'
        'views = ("fou", "kar")\n'
        'model = dict(_delete_=True, type="TwoViewMLP", '
        'data_preprocessor=dict(type="MultiModalDataPreprocessor", '
        'preprocessors={v: dict(type="ActionDataPreprocessor") '
        'for v in views}))\n'
        'train_dataloader = dict(dataset=dict(views=views))\n'
        'val_dataloader = dict(dataset=dict(views=views))\n'
        'test_dataloader = dict(dataset=dict(views=views))\n'
        "custom_hooks = [dict(type='DRHook', interval=1, begin=1, "
        "max_times=1, modalities=['kar'], progress=False), "
        "dict(type='RankWeightDumpBeforeDRHook'), "
        "dict(type='RankWeightDumpHook')]\n")
    return config


def test_own_model_is_diagnosed_and_relearned_through_train_py(
        mfeat_root, tmp_path, monkeypatch, capsys):
    work = tmp_path / 'work'
    status, out = run_tool_main('train.py', [
        _config(tmp_path), '--work-dir', work, '--cfg-options',
        *data_root_cfg_options(mfeat_root), 'train_cfg.max_epochs=2',
        'experiment_name=own_model_dr'
    ], monkeypatch, capsys)
    assert status is None
    (record, ) = history(work)
    assert record['epoch'] == 1 and list(record['modalities']) == ['kar']
    # k from the validation data set: the model has no classification head.
    assert 'k=10 (10 classes of val_dataloader.dataset' in out
    strength = record['modalities']['kar']['strength']
    assert strength > 0

    before = torch.load(work / 'rank0_epoch1_before_dr.pth')
    after = torch.load(work / 'rank0_epoch1_after_dr.pth')
    init = torch.load(work / 'epoch_2.pth')['dr_hook']['init_state']
    assert list(init) == ['kar']
    for key, value in before.items():
        view, name = key.split('.', 1)
        if view == 'kar' and 'running' not in name and 'num_batches' \
                not in name:
            # The diagnosed encoder's parameters, blended toward theta_init.
            torch.testing.assert_close(after[key], (1 - strength) * value +
                                       strength * init['kar'][name])
            assert not torch.equal(after[key], value), key
        else:
            # Its buffers and the other encoder: untouched.
            assert torch.equal(after[key], value), key
