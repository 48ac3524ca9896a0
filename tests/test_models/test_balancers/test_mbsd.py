"""MBSD: the pair terms on hand values; one step (two and three modalities)
through BalancedOptimWrapper against a reference written as BalanceMM's
MBSDTrainer.training_step computes it, sample by sample; the epochs; the
errors; the fragment's defaults; and under DDP (2 processes) identical ranks
that equal one process holding the whole batch."""
import copy
import math
import os.path as osp

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from balancer_ddp import two_ranks_equal_one_process, whole_batch_options
from balancer_models import (THREE_ENCODERS, assert_predicts_as_joint_training,
                             assert_same_parameters, batch, build, sgd_step,
                             sharpen_head)
from conftest import REPO
from mmengine.config import Config

from mmdr.models.balancers import MBSD, pair_terms
from mmdr.utils import register_all_modules

register_all_modules()


def _mbsd(encoders=None, **kwargs):
    extra = {} if encoders is None else dict(encoders=encoders)
    # A head far from uniform, so that the modalities' predictions differ.
    return sharpen_head(build(balancer=dict(type='MBSD', **kwargs), **extra))


def _three_modality_batch():
    data = batch(10, 4)
    g = torch.Generator().manual_seed(4)
    labels = torch.stack([s.gt_labels.item for s in data['data_samples']])
    data['inputs'] = {
        m: list(torch.randn(10, w, generator=g) + labels.view(-1, 1))
        for m, w in dict(audio=6, visual=5, text=3).items()
    }
    return data


def _balancemm_step(model, data, modulated=True):
    """One batch as BalanceMM's MBSDTrainer.training_step trains it, on a
    copy of the model: the concatenation head's output and its per-modality
    slices plus bias / M, cross entropies, and per sample the weight, the
    stronger and weaker probability of the true class (Python max/min of
    0-d tensors written into zero tensors), then the weighted KL and
    squared distance averaged over the batch (on logits for two
    modalities; on probabilities, each pair's term averaged, for three).

    Returns:
        tuple: Parameters after the step and the total loss.
    """
    model = copy.deepcopy(model)
    model.balancer = None
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    data = model.data_preprocessor(copy.deepcopy(data), True)
    label = torch.stack([s.gt_labels.item for s in data['data_samples']])
    label = label.view(-1)
    torch.manual_seed(5)
    feats = model.extract_feat(data['inputs'])
    key = list(feats)
    criterion = nn.CrossEntropyLoss()
    fc = model.cls_head.fc_cls
    out = fc(torch.cat([feats[k] for k in key], dim=1))
    unimodal, now = {}, 0
    for k in key:
        size = feats[k].shape[1]
        unimodal[k] = (
            torch.mm(feats[k],
                     torch.transpose(fc.weight[:, now:now + size], 0, 1)) +
            fc.bias / len(key))
        now += size
    total = criterion(out, label)
    if modulated:
        prediction = {k: F.softmax(unimodal[k], dim=1) for k in key}
        y_pred = {k: prediction[k].argmax(dim=-1) for k in key}
        n = len(out)
        pairs = [(0, 1)] if len(key) == 2 else [(0, 1), (0, 2), (1, 2)]
        kl_sum, rs_sum = 0, 0
        for a, b in pairs:
            pa, pb = prediction[key[a]], prediction[key[b]]
            w, ps, pw = torch.zeros(n), torch.zeros(n), torch.zeros(n)
            for i in range(n):
                if y_pred[key[a]][i] == label[i] or y_pred[
                        key[b]][i] == label[i]:
                    w[i] = max(pa[i][label[i]], pb[i][label[i]]) - min(
                        pa[i][label[i]], pb[i][label[i]])
                ps[i] = max(pa[i][label[i]], pb[i][label[i]])
                pw[i] = min(pa[i][label[i]], pb[i][label[i]])
            if len(key) == 2:
                rs = 1 / unimodal[key[0]].shape[1] * torch.sum(
                    (unimodal[key[a]] - unimodal[key[b]])**2, dim=1)
            else:
                rs = 1 / unimodal[key[0]].shape[1] * torch.sum(
                    (pa - pb)**2, dim=1)
            kl = F.kl_div(ps, pw, reduction='none')
            kl_sum = kl_sum + torch.mm(w.reshape(1, -1), kl.reshape(-1, 1)) / n
            rs_sum = rs_sum + torch.mm(w.reshape(1, -1), rs.reshape(-1, 1)) / n
        for k in key:
            total = total + criterion(unimodal[k], label)
        total = total + (kl_sum / len(pairs)).squeeze() + (
            rs_sum / len(pairs)).squeeze()
    total.backward()
    optimizer.step()
    return {n: p.detach() for n, p in model.named_parameters()}, total


def test_pair_terms_on_hand_values():
    # Sample 1: the first right with p 0.75, the second wrong with q 0.25;
    # sample 2: both wrong (no weight).
    first = torch.log(torch.tensor([[3.0, 1.0], [1.0, 3.0]]))
    second = torch.log(torch.tensor([[1.0, 3.0], [1.0, 3.0]]))
    labels = torch.tensor([0, 0])
    distance, divergence = pair_terms(first, second, labels, False)
    # w = 0.5; squared logit gap mean (log 3)^2 on sample 1.
    torch.testing.assert_close(distance,
                               torch.tensor(0.5 * math.log(3)**2 / 2))
    kl = 0.25 * (math.log(0.25) - 0.75)
    torch.testing.assert_close(divergence, torch.tensor(0.5 * kl / 2))
    distance, _ = pair_terms(first, second, labels, True)
    torch.testing.assert_close(distance, torch.tensor(0.5 * 0.25 / 2))


@pytest.mark.parametrize('three', [False, True], ids=['two', 'three'])
def test_one_step_equals_balancemms_training_step(three, epoch):
    data = _three_modality_batch() if three else batch(10)
    model = _mbsd(THREE_ENCODERS if three else None)
    expected, total = _balancemm_step(model, data)
    after, log_vars = sgd_step(model, data)
    assert_same_parameters(after, expected)
    assert log_vars['loss'].item() == pytest.approx(total.item(), rel=1e-5)
    assert log_vars['loss_kl'] != 0 and log_vars['loss_rs'] > 0
    plain, _ = _balancemm_step(model, data, modulated=False)
    assert not torch.allclose(plain['cls_head.fc_cls.weight'],
                              after['cls_head.fc_cls.weight'])


def test_regularises_from_begin_epoch_to_end_epoch_inclusive(epoch):
    data = batch(10)
    model = _mbsd(begin_epoch=2, end_epoch=3)
    for number, active in ((1, False), (2, True), (3, True), (4, False)):
        epoch(number)
        expected, _ = _balancemm_step(model, data, modulated=active)
        after, log_vars = sgd_step(copy.deepcopy(model), data)
        assert_same_parameters(after, expected)
        assert ('loss_kl' in log_vars) == active
    epoch(500)
    assert MBSD().active()
    assert not MBSD(begin_epoch=501).active()


def test_prediction_is_joint_trainings():
    assert_predicts_as_joint_training(_mbsd())


def test_models_it_cannot_apply_to_are_refused_at_build():
    with pytest.raises(
            ValueError, match='MBSD reads uni-modal logits.*SumFusion'):
        build(
            fusion=dict(type='SumFusion', out_channels=8),
            balancer=dict(type='MBSD'))
    with pytest.raises(
            ValueError,
            match=r"MBSD balances two or more modalities; the model trains "
            r"only \['visual'\]"):
        build(modalities=['visual'], balancer=dict(type='MBSD'))


def test_fragment_has_balancemms_defaults():
    """test_all_configs holds mbsd_avdigits.py equal to jt_avdigits.py plus
    the fragment."""
    fragment = Config.fromfile(
        osp.join(REPO, 'configs/_base_/methods/mbsd.py'))
    assert fragment.model.balancer == dict(
        type='MBSD', begin_epoch=1, end_epoch=None)


@pytest.mark.slow
def test_ranks_stay_identical_and_equal_one_process_under_ddp(
        avdigits_root, tmp_path):
    """configs/mbsd_avdigits.py under tools/train.py with 2 processes: every
    term is a mean over the samples, so DDP's average of the ranks'
    gradients is the whole batch's, and both ranks end identical and equal
    one process that sees each step's 10 samples at once."""
    log = two_ranks_equal_one_process(
        osp.join(REPO, 'configs/mbsd_avdigits.py'), tmp_path,
        lambda size: whole_batch_options(avdigits_root, size))
    assert 'loss_kl' in log and 'loss_rs' in log
