"""LFM: the divergence and the schedule on hand values; one step (two and
three modalities) through BalancedOptimWrapper against a reference computed
here as the authors' code does; the documented effect of every argument;
half batches averaged as DDP averages them; the errors; the config; and
under DDP (2 processes) identical ranks that equal one process holding the
whole batch."""
import copy
import os.path as osp
from itertools import combinations
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from balancer_ddp import two_ranks_equal_one_process, whole_batch_options
from balancer_models import (THREE_ENCODERS, assert_predicts_as_joint_training,
                             assert_same_parameters, batch, build, sgd_step,
                             sharpen_head)
from conftest import REPO
from mmaction.structures import ActionDataSample
from mmengine.config import Config
from mmengine.dataset import DefaultSampler, pseudo_collate
from mmengine.logging import MMLogger
from mmengine.runner import EpochBasedTrainLoop
from runs import build_runner

from mmdr.models.balancers import (LFM, HeldOutSampler, alignment_divergence,
                                   weight_hypergradient)
from mmdr.models.balancers.lfm import updated_cls_weight
from mmdr.utils import register_all_modules

register_all_modules()

#: The three-modality batch: widths of THREE_ENCODERS' inputs.
THREE_WIDTHS = dict(audio=6, visual=5, text=3)


def _lfm(encoders=None, **kwargs):
    """A model with LFM and a head far from uniform, with a bias."""
    overrides = dict(balancer=dict(type='LFM', **kwargs))
    if encoders is not None:
        overrides['encoders'] = encoders
    model = build(**overrides)
    return sharpen_head(model)


def _three_batch(n=12):
    g = torch.Generator().manual_seed(2)
    labels = torch.randint(4, (n, ), generator=g)
    return dict(
        inputs={
            m: list(torch.randn(n, w, generator=g) + labels[:, None].float())
            for m, w in THREE_WIDTHS.items()
        },
        data_samples=[ActionDataSample().set_gt_labels(y) for y in labels])


def _authors_alignment(p, q):
    """Crema_epoch.py's Alignment, as written."""
    p = F.softmax(p, dim=-1)
    q = F.softmax(q, dim=-1)
    m = 0.5 * p + 0.5 * q
    kl_p_m = F.kl_div(p.log(), m, reduction='batchmean')
    kl_q_m = F.kl_div(q.log(), m, reduction='batchmean')
    return 0.5 * (kl_p_m + kl_q_m)


def _authors_cls_k(epoch):
    """Crema_epoch.py's getAlpha_Learnable_Fitted, both polynomials."""
    coef_alpha1 = [
        2.04623704e-01, 3.35472727e-03, 1.22989557e-04, -2.92947416e-06,
        2.23835486e-08, -5.39717505e-11
    ]
    coef_alpha2 = [
        7.95376296e-01, -3.35472727e-03, -1.22989557e-04, 2.92947416e-06,
        -2.23835486e-08, 5.39717505e-11
    ]
    alpha1 = sum(c * (epoch**i) for i, c in enumerate(coef_alpha1))
    alpha2 = sum(c * (epoch**i) for i, c in enumerate(coef_alpha2))
    return [alpha1, alpha2]


def _authors_step(model, data, cls_k):
    """One batch of Crema_epoch.py's train_audio_video on a copy of the
    model: the uni-modal logits are the concatenation head's slices (half
    the bias each), the classification loss is on the fused logits (their
    sum, as BalanceMM), the alignment averaged over the pairs (BalanceMM's
    extension beyond two), ``loss = 2 * (cls_k[0] * loss_cls + cls_k[1] *
    loss_alignment)``, backward, SGD step.

    Returns:
        dict: Parameters after the step.
    """
    model = copy.deepcopy(model)
    model.balancer = None
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    data = model.data_preprocessor(copy.deepcopy(data), True)
    y = torch.stack([s.gt_labels.item for s in data['data_samples']]).view(-1)
    torch.manual_seed(5)
    feats = model.extract_feat(data['inputs'])
    outputs = _slices(model, feats)
    o_b = model.cls_head(model.fusion(feats))
    pairs = list(combinations(outputs, 2))
    loss_alignment = sum(_authors_alignment(p, q) for p, q in pairs)
    loss_alignment = loss_alignment / len(pairs)
    criterion = nn.CrossEntropyLoss(reduction='none')
    loss_cls = criterion(o_b, y).mean()
    loss = 2 * (cls_k[0] * loss_cls + cls_k[1] * loss_alignment)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return {n: p.detach() for n, p in model.named_parameters()}


def _slices(model, feats):
    """The concatenation head's slices with their share of the bias: the
    authors' per-encoder heads (o_a, o_v, ...)."""
    fc = model.cls_head.fc_cls
    outputs, start = [], 0
    for m in model.modalities:
        width = feats[m].shape[1]
        outputs.append(feats[m] @ fc.weight[:, start:start + width].t() +
                       fc.bias / len(feats))
        start += width
    return outputs


def _authors_get_alpha(model, data, alpha, epoch, lr_alpha=1e-4):
    """Crema_epoch_learnable.py's getAlpha_Learnable on a copy of the
    model in evaluation mode (their model after the first epoch), on the
    held-out batch as a whole (their first half of 16)."""
    model = copy.deepcopy(model).eval()
    model.balancer = None
    data = model.data_preprocessor(copy.deepcopy(data), False)
    y = torch.stack([s.gt_labels.item for s in data['data_samples']]).view(-1)
    feats = model.extract_feat(data['inputs'])
    o_a, o_v = _slices(model, feats)
    loss_alignment = _authors_alignment(o_a, o_v)
    criterion = nn.CrossEntropyLoss(reduction='none')
    loss_cls = criterion(model.cls_head(model.fusion(feats)), y).mean()
    L_total = alpha[0] * loss_cls + alpha[1] * loss_alignment
    parameters = list(model.parameters())
    theta_grads = torch.autograd.grad(L_total, parameters, create_graph=True)
    cls_grads = torch.autograd.grad(
        loss_cls, parameters, retain_graph=True, create_graph=True)
    hessian_vector_prod = torch.autograd.grad(
        outputs=theta_grads,
        inputs=parameters,
        grad_outputs=cls_grads,
        retain_graph=True)
    with torch.no_grad():
        alpha_grad = hessian_vector_prod[0].mean().item()
        if epoch % 20 == 0 and epoch != 0:
            lr_alpha = lr_alpha / 2
        alpha[1] -= lr_alpha * alpha_grad
        alpha[1] = max(0.05, min(0.95, alpha[1]))
        alpha[0] = 1.0 - alpha[1]
    return alpha, lr_alpha, alpha_grad


def test_divergence_on_hand_values():
    same = torch.randn(3, 4)
    assert float(alignment_divergence(same, same)) == pytest.approx(
        0.0, abs=1e-7)
    # Two near-certain, disjoint predictions (1, e^-60) and (e^-60, 1):
    # KL(m || p) = 0.5 log 0.5 + 0.5 (log 0.5 + 60), not the textbook
    # divergence's log 2.
    p = torch.tensor([[30.0, -30.0]])
    assert float(alignment_divergence(p, p.flip(1))) == pytest.approx(
        30 - np.log(2), rel=1e-5)
    logits = torch.randn(2, 5, 3)
    torch.testing.assert_close(
        alignment_divergence(*logits), _authors_alignment(*logits))


def test_schedule_is_the_authors_polynomial(epoch):
    model = _lfm()
    for number, authors_epoch in ((1, 0), (2, 1), (101, 100), (200, 199)):
        epoch(number)
        alpha1, alpha2 = _authors_cls_k(authors_epoch)
        assert model.balancer.cls_weight() == pytest.approx(alpha1)
        assert 1 - model.balancer.cls_weight() == pytest.approx(alpha2)
    epoch(1)
    assert model.balancer.cls_weight() == pytest.approx(0.204623704)


@pytest.mark.parametrize('number', [1, 120])
def test_one_step_equals_the_authors_loop(number, epoch):
    epoch(number)
    data = batch()
    model = _lfm()
    expected = _authors_step(model, data, _authors_cls_k(number - 1))
    after, log_vars = sgd_step(model, data)
    assert_same_parameters(after, expected)
    assert float(log_vars['lfm_cls_weight']) == pytest.approx(
        _authors_cls_k(number - 1)[0])
    # The alignment moves the encoders otherwise than the labels alone.
    plain = _authors_step(model, data, (1.0, 0.0))
    assert not torch.allclose(plain['encoders.audio.layers.0.weight'],
                              after['encoders.audio.layers.0.weight'])


def test_three_modalities_average_the_pairs(epoch):
    epoch(30)
    data = _three_batch()
    model = _lfm(encoders=THREE_ENCODERS)
    expected = _authors_step(model, data, _authors_cls_k(29))
    after, _ = sgd_step(model, data)
    assert_same_parameters(after, expected)


@pytest.mark.parametrize('kwargs, cls_k', [
    (dict(cls_weight_coefficients=(1.0, )), (1.0, 0.0)),
    (dict(cls_weight_coefficients=(0.0, )), (0.0, 1.0)),
    (dict(cls_weight_coefficients=(0.5, 0.01)), (0.59, 0.41)),
])
def test_coefficients_set_the_weights(kwargs, cls_k, epoch):
    epoch(10)
    data = batch()
    after, log_vars = sgd_step(_lfm(**kwargs), data)
    assert_same_parameters(after, _authors_step(_lfm(), data, cls_k))
    assert float(log_vars['lfm_cls_weight']) == pytest.approx(cls_k[0])
    if cls_k[1] == 0.0:
        assert log_vars['loss_align'] == 0


def test_epoch_scale_stretches_the_schedule(epoch):
    data = batch()
    epoch(51)  # (51 - 1) * 2 = the authors' epoch 100
    after, log_vars = sgd_step(_lfm(epoch_scale=2.0), data)
    assert_same_parameters(after,
                           _authors_step(_lfm(), data, _authors_cls_k(100)))
    epoch(101)
    _, default = sgd_step(_lfm(), data)
    assert float(log_vars['lfm_cls_weight']) == pytest.approx(
        float(default['lfm_cls_weight']))


@pytest.mark.parametrize('number, weight_lr', [(1, 1e-4), (21, 1e-4),
                                               (41, 1e-2)])
def test_learned_weight_equals_the_authors_update(number, weight_lr):
    """The update before epoch ``number`` (counted from 1) from w = 0.05:
    the authors' hypergradient, their rate halved at their epochs 20 and
    40, their clipping; then a step with the learned weight."""
    model = _lfm(weight_rule='learnable', weight_lr=weight_lr)
    heldout = batch(8, seed=4)
    # Their lr_alpha as it comes to their epoch number - 1: halved at each
    # earlier epoch 20, 40...
    lr_alpha = weight_lr / 2**len(
        [e for e in range(1, number - 1) if e % 20 == 0])
    alpha, _, alpha_grad = _authors_get_alpha(model, heldout, [0.05, 0.95],
                                              number - 1, lr_alpha)
    data = model.data_preprocessor(copy.deepcopy(heldout), False)
    weight = model.balancer.update_cls_weight(model, data, number)
    assert model.training  # its mode restored
    # float32 hypergradients summed in other orders: 1e-6 of the change.
    assert weight == pytest.approx(alpha[0], abs=1e-9)
    assert float(model.balancer.learned_cls_weight) == weight
    expected_change = weight_lr / 2**((number - 1) // 20) * alpha_grad
    assert weight - 0.05 == pytest.approx(expected_change, rel=1e-5)
    assert weight != 0.05
    data = batch()
    expected = _authors_step(model, data, alpha)
    after, log_vars = sgd_step(model, data)
    assert_same_parameters(after, expected)
    assert float(log_vars['lfm_cls_weight']) == pytest.approx(weight)


def test_hypergradient_and_clipping_on_a_quadratic():
    """L_cls = x^2 / 2 and L_align = x^2 (x a scalar parameter): with
    w = 0.25, H = 0.25 + 0.75 * 2 = 1.75 and grad L_cls = x, so the
    hypergradient is 1.75 x."""
    x = torch.tensor([3.0], requires_grad=True)
    grad = weight_hypergradient([x], x.pow(2).sum() / 2, x.pow(2).sum(), 0.25)
    assert grad == pytest.approx(1.75 * 3.0)
    assert updated_cls_weight(0.25, 5.0, 0.01) == pytest.approx(0.30)
    assert updated_cls_weight(0.25, 1e3, 1.0) == pytest.approx(0.95)
    assert updated_cls_weight(0.25, -1e3, 1.0) == pytest.approx(0.05)


def _runner(model, sampler_type=HeldOutSampler, size=20):
    """What LFM's epoch step reads of a Runner: the training loader (data
    set items as PackMultiModalInputs makes them), the model, the epoch."""
    data = batch(size, seed=6)
    dataset = [
        dict(
            inputs={m: data['inputs'][m][i]
                    for m in data['inputs']},
            data_samples=data['data_samples'][i]) for i in range(size)
    ]
    sampler = (
        HeldOutSampler(dataset, heldout_fraction=0.5)
        if sampler_type is HeldOutSampler else DefaultSampler(dataset))
    loader = SimpleNamespace(
        dataset=dataset, sampler=sampler, collate_fn=pseudo_collate)
    return SimpleNamespace(
        train_dataloader=loader,
        model=model,
        epoch=0,
        logger=MMLogger.get_instance('lfm-test'),
        train_loop=object.__new__(EpochBasedTrainLoop)), dataset


def test_epoch_step_learns_on_the_first_heldout_samples():
    model = _lfm(weight_rule='learnable', heldout_samples=3)
    runner, dataset = _runner(model)
    held = runner.train_dataloader.sampler.heldout_indices[:3]
    alpha, _, _ = _authors_get_alpha(
        model, pseudo_collate([dataset[i] for i in held]), [0.05, 0.95], 0)
    model.balancer.before_train_epoch(runner)
    learned = float(model.balancer.learned_cls_weight)
    assert learned - 0.05 == pytest.approx(alpha[0] - 0.05, rel=1e-5)
    assert learned != 0.05
    # 'fitted' has no epoch step.
    fitted = _lfm()
    fitted.balancer.before_train_epoch(_runner(fitted, DefaultSampler)[0])
    assert float(fitted.balancer.learned_cls_weight) == 0.05


def test_epoch_step_refuses_a_training_set_without_a_heldout_part():
    model = _lfm(weight_rule='learnable')
    with pytest.raises(TypeError, match="sampler=dict.type='HeldOutSampler'"):
        model.balancer.before_train_epoch(_runner(model, DefaultSampler)[0])
    model = _lfm(weight_rule='learnable', heldout_samples=11)
    with pytest.raises(ValueError, match='sampler holds out 10'):
        model.balancer.before_train_epoch(_runner(model)[0])


def test_half_batches_averaged_give_the_whole_batchs_gradient(epoch):
    """DDP averages the ranks' gradients: every LFM term is a mean over the
    samples, so two halves' averaged gradients are the whole batch's (a
    divergence summed over the samples would be half of it)."""
    epoch(40)
    model = _lfm().eval()  # no dropout: the halves see what the whole sees
    data = model.data_preprocessor(batch(), True)
    feats = {
        m: x.detach().requires_grad_()
        for m, x in model.extract_feat(data['inputs']).items()
    }

    def gradient(rows):
        part = {m: f[rows] for m, f in feats.items()}
        samples = data['data_samples'][rows]
        losses = model.balancer.loss(model, part, samples)
        total = losses['loss_cls'] + losses['loss_align']
        return torch.autograd.grad(total, feats['audio'])[0]

    halves = (gradient(slice(0, None, 2)) + gradient(slice(1, None, 2))) / 2
    torch.testing.assert_close(halves, gradient(slice(None)))


def test_prediction_is_joint_trainings():
    assert_predicts_as_joint_training(_lfm())


def test_models_and_arguments_it_cannot_take_are_refused_at_build():
    with pytest.raises(
            ValueError, match='LFM reads uni-modal logits.*SumFusion'):
        build(
            fusion=dict(type='SumFusion', out_channels=8),
            balancer=dict(type='LFM'))
    with pytest.raises(ValueError, match='LFM: epoch_scale=0 must be'):
        LFM(epoch_scale=0)
    with pytest.raises(ValueError, match='cls_weight_coefficients must not'):
        LFM(cls_weight_coefficients=())
    with pytest.raises(ValueError, match="weight_rule='learned' is neither"):
        LFM(weight_rule='learned')
    with pytest.raises(ValueError, match='initial_cls_weight=1.5 must be'):
        LFM(initial_cls_weight=1.5)
    with pytest.raises(ValueError, match='heldout_samples=0 must be'):
        LFM(heldout_samples=0)


def test_config_fragment_holds_the_documented_values():
    """(test_all_configs holds lfm_avdigits.py equal to jt_avdigits.py plus
    this fragment.)"""
    fragment = Config.fromfile(osp.join(REPO, 'configs/_base_/methods/lfm.py'))
    assert fragment.model.balancer == dict(
        type='LFM', weight_rule='fitted', epoch_scale=200 / 27)


@pytest.mark.slow
def test_ranks_stay_identical_and_equal_one_process_under_ddp(
        avdigits_root, tmp_path):
    """configs/lfm_avdigits.py under tools/train.py with 2 processes: both
    ranks end identical and equal one process that sees each step's 10
    samples at once (the schedule depends on the epoch alone, the losses
    are means that DDP's gradient average combines)."""
    log = two_ranks_equal_one_process(
        osp.join(REPO, 'configs/lfm_avdigits.py'), tmp_path,
        lambda size: whole_batch_options(avdigits_root, size))
    assert 'loss_align' in log


def _learnable_options(data_root, size):
    """'learnable' on AV-Digits' 20 fixture training samples, 4 held out
    (16 trained on: 10 + 6 per epoch in one process, 5 + 3 per rank), from
    w = 0.5 with a rate that moves it visibly (from the authors' 0.05 it
    stays clipped there on these samples: the hypergradient is negative)."""
    return [
        *whole_batch_options(data_root, size),
        "model.balancer.weight_rule='learnable'",
        'model.balancer.initial_cls_weight=0.5',
        'model.balancer.weight_lr=5.0', 'model.balancer.heldout_samples=4',
        "train_dataloader.sampler.type='HeldOutSampler'",
        'train_dataloader.sampler.heldout_fraction=0.2'
    ]


@pytest.mark.slow
def test_learnable_ranks_stay_identical_and_equal_one_process_under_ddp(
        avdigits_root, tmp_path):
    """'learnable' under tools/train.py with 2 processes: every rank learns
    the same weight from the same held-out samples, so both ranks end
    identical and equal one process holding each step's samples."""
    log = two_ranks_equal_one_process(
        osp.join(REPO, 'configs/lfm_avdigits.py'), tmp_path,
        lambda size: _learnable_options(avdigits_root, size))
    assert 'LFM: classification weight' in log


@pytest.mark.slow
def test_learnable_weight_resumes_exactly(avdigits_root, tmp_path):
    """3 epochs uninterrupted equal 2 epochs, then a resume to 3: the
    learned weight is in the checkpoint (a buffer of the model)."""
    config = osp.join(REPO, 'configs/lfm_avdigits.py')
    options = _learnable_options(avdigits_root, 10)
    runs = {}
    for name, plan in (('straight', ((3, False), )), ('resumed', ((2, False),
                                                                  (3, True)))):
        for epochs, resume in plan:
            runner = build_runner(config, tmp_path / name, [
                *options, f'train_cfg.max_epochs={epochs}', f'resume={resume}',
                'default_hooks.checkpoint.interval=1'
            ])
            runner.train()
        runs[name] = dict(
            runner.model.named_parameters(),
            weight=runner.model.balancer.learned_cls_weight)
    assert runs['straight'].keys() == runs['resumed'].keys()
    for key, value in runs['straight'].items():
        assert torch.equal(value, runs['resumed'][key]), key
    assert 0.1 < float(runs['straight']['weight']) < 0.45  # moved, unclipped
