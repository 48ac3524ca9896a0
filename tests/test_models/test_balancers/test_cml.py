"""CML: the removals as zeroed features and the regulariser on hand values;
one step (two and three modalities) through BalancedOptimWrapper against a
reference computed here as the authors' code does; the documented effect of
every argument; the draws' stream and each rank's rows; the errors; the
config; and under DDP (2 processes) identical ranks that equal one process
holding the whole batch."""
import copy
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from balancer_ddp import two_ranks_equal_one_process, whole_batch_options
from balancer_models import (THREE_ENCODERS, assert_predicts_as_joint_training,
                             assert_same_parameters, batch, build, sgd_step,
                             sharpen_head)
from conftest import REPO
from mmengine.config import Config

from mmdr.models.balancers import CML, calibration_terms, removal_logits
from mmdr.models.balancers import cml as cml_module
from mmdr.utils import register_all_modules

register_all_modules()

#: The three-modality batch: widths of THREE_ENCODERS' inputs.
THREE_WIDTHS = dict(audio=6, visual=5, text=3)


def _cml(encoders=None, **kwargs):
    extra = {} if encoders is None else dict(encoders=encoders)
    return sharpen_head(build(balancer=dict(type='CML', **kwargs), **extra))


def _three_batch(n=10, seed=2):
    data = batch(n, seed)
    g = torch.Generator().manual_seed(seed)
    data['inputs'] = {
        m: list(torch.randn(n, w, generator=g))
        for m, w in THREE_WIDTHS.items()
    }
    return data


def _authors_step(model, data, lam=0.1, epsilon=0.0, iteration=0):
    """One batch as the authors train it, on a copy of the model: every
    sample's modalities masked one by one in its own random order
    (miwae/train.py's get_multi_mask; the removed modality's features
    zeroed before the concatenation head, as BalanceMM removes it), cross
    entropy averaged over the inputs, and cpm/CPM_Nets.py's rank_loss on
    consecutive inputs weighted by lam (their beta). Their draws (Python's
    random.shuffle per sample) are taken from the documented stream: a CPU
    generator seeded with run seed * 1000003 + iteration (build() seeds 0),
    one uniform key per sample and modality, sorted.

    Returns:
        tuple: Parameters after the step, the classification loss, the
        rank loss, and how many grown confidences trick 1 let pass.
    """
    model = copy.deepcopy(model)
    model.balancer = None
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    data = model.data_preprocessor(copy.deepcopy(data), True)
    target = torch.stack([s.gt_labels.item for s in data['data_samples']])
    target = target.view(-1)
    torch.manual_seed(5)
    feats = model.extract_feat(data['inputs'])
    modalities = list(feats)
    n, view_num = len(target), len(modalities)
    keys = torch.rand((n, view_num),
                      generator=torch.Generator().manual_seed(iteration))
    miss_order = keys.argsort(dim=1)
    masks = [torch.ones(n, view_num)]
    for num in range(view_num - 1):
        mask = masks[-1].clone()
        for i in range(n):
            mask[i, miss_order[i, num]] = 0
        masks.append(mask)
    cls_loss, confidence_list, predict_list = 0, [], []
    for mask in masks:
        partial = {
            m: feats[m] * mask[:, v:v + 1]
            for v, m in enumerate(modalities)
        }
        logits = model.cls_head(model.fusion(partial))
        cls_loss = cls_loss + F.cross_entropy(logits, target)
        probability = F.softmax(logits, dim=1)
        confidence, predict = torch.max(probability, dim=1)
        confidence_list.append(confidence)
        predict_list.append(predict)
    cls_loss = cls_loss / view_num
    rank_loss, exempt = 0, 0
    for num in range(view_num - 1):
        sign = (~((predict_list[num + 1] == target) &
                  (predict_list[num] != target))).long()
        grown = confidence_list[num + 1] > confidence_list[num]
        exempt += int((grown & (sign == 0)).sum())
        rank_loss = rank_loss + F.relu(
            torch.sub(confidence_list[num + 1], confidence_list[num]) * sign -
            epsilon).sum()
    (cls_loss + lam * rank_loss).backward()
    optimizer.step()
    params = {n: p.detach() for n, p in model.named_parameters()}
    return params, cls_loss, rank_loss, exempt


def test_removals_zero_the_removed_features_before_the_head():
    model = sharpen_head(build(encoders=THREE_ENCODERS)).eval()
    g = torch.Generator().manual_seed(0)
    feats = {
        m: torch.randn(4, f.feat_dim, generator=g)
        for m, f in model.encoders.items()
    }
    order = torch.tensor([[0, 1], [2, 0], [1, 2], [2, 1]])
    with torch.no_grad():
        full = model.cls_head(model.fusion(feats))
        removed = removal_logits(full,
                                 model.unimodal_logits(feats, 'fused_head'),
                                 order, model.cls_head.fc_cls.bias / 3)
        assert len(removed) == 2
        gone = torch.zeros(4, 3, dtype=torch.bool)
        for k, logits in enumerate(removed):
            gone[torch.arange(4), order[:, k]] = True
            zeroed = {
                m: feats[m] * ~gone[:, v:v + 1]
                for v, m in enumerate(model.modalities)
            }
            torch.testing.assert_close(logits,
                                       model.cls_head(model.fusion(zeroed)))


def test_calibration_terms_on_hand_values():
    # Confidences: more 0.5 / fewer 0.75 (class 0 both); more 0.75 class 1
    # / fewer 0.5 class 0; more 0.5 class 1 / fewer 0.75 class 0.
    more = torch.log(
        torch.tensor([[2.0, 1.0, 1.0], [1.0, 6.0, 1.0], [1.0, 2.0, 1.0]]))
    fewer = torch.log(
        torch.tensor([[6.0, 1.0, 1.0], [2.0, 1.0, 1.0], [6.0, 1.0, 1.0]]))
    labels = torch.tensor([0, 0, 0])
    terms = calibration_terms(more, fewer, labels, margin=0.0)
    # 1: both right, the confidence grew by 0.25; 2: it fell; 3: only the
    # fewer modalities are right, so their higher confidence is deserved.
    torch.testing.assert_close(terms, torch.tensor([0.25, 0.0, 0.0]))
    # The same growth with a wrong class is penalised alike.
    terms = calibration_terms(more, fewer, torch.tensor([1, 1, 2]), 0.0)
    torch.testing.assert_close(terms, torch.tensor([0.25, 0.0, 0.25]))
    terms = calibration_terms(more, fewer, labels, margin=0.1)
    torch.testing.assert_close(terms, torch.tensor([0.15, 0.0, 0.0]))


@pytest.mark.parametrize('three', [False, True], ids=['two', 'three'])
def test_one_step_equals_the_authors_loop(three, epoch):
    # Batches where trick 1 spares a sample whose confidence grew.
    data = _three_batch(seed=6) if three else batch(seed=5)
    model = _cml(THREE_ENCODERS if three else None)
    expected, cls_loss, rank_loss, exempt = _authors_step(model, data)
    assert rank_loss > 0.05 and exempt == 1
    after, log_vars = sgd_step(model, data)
    assert_same_parameters(after, expected)
    assert log_vars['loss_cls'].item() == pytest.approx(
        cls_loss.item(), rel=1e-5)
    assert log_vars['loss_cml'].item() == pytest.approx(
        0.1 * rank_loss.item(), rel=1e-5)
    plain, _ = sgd_step(
        sharpen_head(build(encoders=THREE_ENCODERS) if three else build()),
        data)
    assert not torch.allclose(plain['cls_head.fc_cls.weight'],
                              after['cls_head.fc_cls.weight'])


@pytest.mark.parametrize('lam, margin', [(0.0, 0.0), (2.0, 0.0), (2.0, 0.05)])
def test_lam_weights_and_margin_tolerates_the_excess(lam, margin, epoch):
    data = batch()
    model = _cml(lam=lam, margin=margin)
    expected, _, rank_loss, _ = _authors_step(
        model, data, lam=lam, epsilon=margin)
    if margin:
        no_margin = _authors_step(model, data, lam=lam)[2]
        assert 0 < rank_loss < no_margin
    after, log_vars = sgd_step(model, data)
    assert_same_parameters(after, expected)
    assert log_vars['loss_cml'].item() == pytest.approx(
        lam * rank_loss.item(), rel=1e-5)
    # A margin beyond any confidence difference leaves no term.
    _, log_vars = sgd_step(_cml(lam=lam, margin=1.0), data)
    assert log_vars['loss_cml'].item() == 0.0


def test_regularises_from_begin_epoch_to_end_epoch_inclusive(epoch):
    data = batch()
    plain, _ = sgd_step(sharpen_head(build()), data)
    for number, active in ((1, False), (2, True), (3, True), (4, False)):
        epoch(number)
        after, log_vars = sgd_step(_cml(begin_epoch=2, end_epoch=3), data)
        assert ('loss_cml' in log_vars) == active
        if not active:
            assert_same_parameters(after, plain)
    epoch(500)
    assert CML().active()
    assert not CML(begin_epoch=501).active()


def test_orders_are_a_stream_per_run_seed_and_iteration(epoch):
    """The same seed and iteration draw the same orders (every rank, a
    resumed run); another iteration or seed other orders; each a
    permutation without its last modality."""

    def orders(seed, iteration):
        epoch(1, iteration)
        balancer = build(seed=seed, balancer=dict(type='CML')).balancer
        return balancer.removal_order(64, 3)

    first = orders(0, 3)
    assert first.shape == (64, 2) and first.dtype == torch.long
    assert (first[:, 0] != first[:, 1]).all()
    assert set(first.flatten().tolist()) == {0, 1, 2}
    assert torch.equal(orders(0, 3), first)
    assert not torch.equal(orders(0, 4), first)
    assert not torch.equal(orders(1, 3), first)


def test_each_rank_keeps_its_rows_and_scales_its_sum(monkeypatch, epoch):
    """With 2 ranks, rank 1 removes as the whole batch's odd rows, and its
    regulariser counts twice (DDP halves it when it averages)."""
    balancer = _cml().balancer
    whole = balancer.removal_order(12, 2)
    monkeypatch.setattr(cml_module, 'get_world_size', lambda: 2)
    monkeypatch.setattr(cml_module, 'get_rank', lambda: 1)
    assert torch.equal(balancer.removal_order(6, 2), whole[1::2])

    model = _cml(lam=0.5)
    data = model.data_preprocessor(batch(6), True)
    feats = model.extract_feat(data['inputs'])
    losses = model.balancer.loss(model, feats, data['data_samples'])
    full = model.cls_head(model.fusion(feats))
    (fewer, ) = removal_logits(full,
                               model.unimodal_logits(feats, 'fused_head'),
                               whole[1::2].narrow(1, 0, 1),
                               model.cls_head.fc_cls.bias / 2)
    labels = torch.stack([s.gt_labels.item for s in data['data_samples']])
    terms = calibration_terms(full, fewer, labels.view(-1), 0.0)
    assert terms.sum() > 0
    torch.testing.assert_close(losses['loss_cml'], 2 * 0.5 * terms.sum())


def test_prediction_is_joint_trainings():
    assert_predicts_as_joint_training(_cml())


def test_models_it_cannot_apply_to_are_refused_at_build():
    with pytest.raises(
            ValueError, match='CML reads uni-modal logits.*SumFusion'):
        build(
            fusion=dict(type='SumFusion', out_channels=8),
            balancer=dict(type='CML'))
    with pytest.raises(
            ValueError,
            match=r"CML balances two or more modalities; the model trains "
            r"only \['visual'\]"):
        build(modalities=['visual'], balancer=dict(type='CML'))
    with pytest.raises(ValueError, match='CML: lam=-0.1 must not be'):
        CML(lam=-0.1)
    with pytest.raises(ValueError, match='CML: margin=-1 must not be'):
        CML(margin=-1)


def test_config_is_joint_training_plus_the_method_fragment():
    fragment = Config.fromfile(osp.join(REPO, 'configs/_base_/methods/cml.py'))
    cfg = Config.fromfile(osp.join(REPO, 'configs/cml_avdigits.py'))
    joint = Config.fromfile(osp.join(REPO, 'configs/jt_avdigits.py'))
    assert cfg.model.balancer == fragment.model.balancer == dict(
        type='CML', lam=0.1, margin=0.0, begin_epoch=1, end_epoch=None)
    cfg.model.pop('balancer')
    assert cfg.model == joint.model


@pytest.mark.slow
def test_ranks_stay_identical_and_equal_one_process_under_ddp(
        avdigits_root, tmp_path):
    """configs/cml_avdigits.py under tools/train.py with 2 processes, lam 5
    so that the regulariser moves the parameters: every rank keeps its rows
    of the whole batch's removal orders and scales its summed regulariser
    by the number of ranks, so both ranks end identical and equal one
    process that sees each step's 10 samples at once (without the scaling
    DDP's average halves the regulariser's gradient)."""
    log = two_ranks_equal_one_process(
        osp.join(REPO, 'configs/cml_avdigits.py'), tmp_path, lambda size:
        [*whole_batch_options(avdigits_root, size), 'model.balancer.lam=5.0'])
    assert 'loss_cml' in log
