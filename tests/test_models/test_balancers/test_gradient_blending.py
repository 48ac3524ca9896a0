"""Gradient-Blending: the weights of one estimate against the paper's weight
estimation written out here (each head's model trained alone, its training
and held-out losses before and after, |G| / O^2 normalised), on batches and
through the Runner on AV-Digits; one training step against the weighted loss;
the held-out carve; the arguments; the errors; a run resumed across a
re-estimate; identical ranks under DDP, equal to one process."""
import copy
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from balancer_ddp import two_ranks_equal_one_process, whole_batch_options
from balancer_models import THREE_ENCODERS, batch, build
from balancer_test_hooks import parameter_dump_config
from conftest import REPO, data_root_cfg_options
from dr_test_hooks import Interrupt, InterruptHook
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.hooks import Hook
from runs import build_runner, train_tool

from mmdr.engine.optimizers import BalancedOptimWrapper
from mmdr.models.balancers.gradient_blending import (HeldOutSampler,
                                                     blending_weights,
                                                     heldout_split)
from mmdr.registry import DATASETS, MODELS
from mmdr.utils import register_all_modules
from mmdr.utils.random_state import epoch_seed

register_all_modules()
CONFIG = osp.join(REPO, 'configs/gradient-blending_avdigits.py')
FRAGMENT = osp.join(REPO, 'configs/_base_/methods/gradient_blending.py')
HEADS = ('audio', 'visual', 'fused')
UNIMODAL_HEAD = dict(type='LinearClsHead', topk=(1, ))


def _gblend(seed=0, **kwargs):
    return build(
        seed,
        unimodal_head=UNIMODAL_HEAD,
        balancer=dict(type='GradientBlending', **kwargs))


# ----------------------------------------------------------------------
# the paper's weight estimation, written out
# ----------------------------------------------------------------------
def _labels(data):
    return torch.stack([s.gt_labels.item
                        for s in data['data_samples']]).view(-1)


def _inputs(data):
    return {
        m: x if torch.is_tensor(x) else torch.stack(x)
        for m, x in data['inputs'].items()
    }


def _logits(net, head, data):
    """A head's model: the encoder and its own head, or every encoder, the
    fusion and the fused head."""
    x = _inputs(data)
    if head == 'fused':
        return net.cls_head(
            net.fusion({m: net.encoders[m](x[m])
                        for m in net.modalities}))
    return net.unimodal_heads[head](net.encoders[head](x[head]))


def _mean_loss(net, head, batches):
    net.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for data in batches:
            total += F.cross_entropy(
                _logits(net, head, data), _labels(data),
                reduction='sum').double()
            count += len(data['data_samples'])
    net.train()
    return float(total / count)


def _head_params(net, head):
    if head == 'fused':
        return [
            *net.encoders.parameters(), *net.fusion.parameters(),
            *net.cls_head.parameters()
        ]
    return [
        *net.encoders[head].parameters(),
        *net.unimodal_heads[head].parameters()
    ]


def _paper_estimate(model, fit, train, heldout, make_optimizer, epochs):
    """GB(phi, N): per head, a copy of its model trained N epochs on the
    head's cross entropy; L^T and L^V at 0 and N; w = |G| / O^2 / Z."""
    before = [(_mean_loss(model, h, train), _mean_loss(model, h, heldout))
              for h in HEADS]
    after = []
    for head in HEADS:
        net = copy.deepcopy(model)
        params = _head_params(net, head)
        optimizer = make_optimizer(params)
        for _ in range(epochs):
            for data in fit:
                optimizer.zero_grad()
                F.cross_entropy(_logits(net, head, data),
                                _labels(data)).backward()
                optimizer.step()
        after.append((_mean_loss(net, head,
                                 train), _mean_loss(net, head, heldout)))
    raw = []
    for (t0, v0), (tn, vn) in zip(before, after):
        g = v0 - vn
        o = (vn - tn) - (v0 - t0)
        raw.append(abs(g / o**2))
    weights = [w / sum(raw) for w in raw]
    losses = [[b[0] for b in before], [b[1] for b in before],
              [a[0] for a in after], [a[1] for a in after]]
    return torch.tensor(weights), torch.tensor(losses)


def test_one_estimate_is_the_papers_weight_estimation():
    model = _gblend(seed=3)
    fit = [batch(8, seed=s) for s in (1, 2)]
    heldout = [batch(6, seed=7)]
    loaders = dict(fit=fit, train=fit, heldout=heldout)
    reference = copy.deepcopy(model)
    weights = model.balancer.estimate(
        model,
        loaders,
        dict(type=torch.optim.SGD, lr=0.5, momentum=0.9),
        epochs=3,
        epoch=1,
        seed=0)
    # The estimate's generators are seeded from the run's seed and the
    # epoch (the encoders' dropout masks): the same here.
    torch.manual_seed(epoch_seed(0, 1))
    want, losses = _paper_estimate(
        reference, fit, fit, heldout,
        lambda p: torch.optim.SGD(p, lr=0.5, momentum=0.9), 3)
    torch.testing.assert_close(model.balancer.estimate_losses, losses)
    torch.testing.assert_close(weights, want)
    torch.testing.assert_close(model.balancer.weights, want)
    assert float(weights.sum()) == pytest.approx(1.0)
    assert int(model.balancer.estimate_epoch) == 1
    # The model itself is left as it was (only copies trained).
    for (name, p), q in zip(model.named_parameters(), reference.parameters()):
        assert torch.equal(p, q), name
    assert model.training


# ----------------------------------------------------------------------
# through the Runner on AV-Digits (20 training samples: 2 held out)
# ----------------------------------------------------------------------
class _StateBeforeEstimate(Hook):
    """The model's state before the first epoch's estimate."""
    priority = 'VERY_HIGH'

    def before_train_epoch(self, runner) -> None:
        if runner.epoch == 0:
            self.state = copy.deepcopy(runner.model.state_dict())


def _avdigits_batches(data_root, indices):
    cfg = Config.fromfile(CONFIG)
    dataset_cfg = cfg.train_dataloader.dataset
    dataset_cfg.data_root = data_root
    dataset = DATASETS.build(dataset_cfg)
    return [pseudo_collate([dataset[i] for i in indices])]


def test_weights_through_the_runner_are_the_papers(avdigits_root, tmp_path):
    """One epoch of configs/gradient-blending_avdigits.py: the checkpoint's
    weights equal the paper's estimation from the model as training
    started, on the 18 training samples (one batch a copy epoch, 2 copy
    epochs, the run's Adam) and the 2 held-out ones."""
    work = tmp_path / 'work'
    runner = build_runner(CONFIG, work, [
        *data_root_cfg_options(avdigits_root), 'train_cfg.max_epochs=1',
        'model.balancer.interval=2'
    ])
    initial = _StateBeforeEstimate()
    runner.register_hook(initial)
    runner.train()
    state = torch.load(work / 'epoch_1.pth')['state_dict']
    assert int(state['balancer.estimate_epoch']) == 1

    order = torch.randperm(20, generator=torch.Generator().manual_seed(0))
    held = sorted(order[:2].tolist())
    kept = sorted(order[2:].tolist())
    assert runner.train_dataloader.sampler.heldout_indices == held
    cfg = Config.fromfile(CONFIG)
    model = MODELS.build(cfg.model)
    model.load_state_dict(initial.state)
    preprocess = model.data_preprocessor
    train = [
        preprocess(b, False) for b in _avdigits_batches(avdigits_root, kept)
    ]
    heldout = [
        preprocess(b, False) for b in _avdigits_batches(avdigits_root, held)
    ]
    optimizer = cfg.optim_wrapper.optimizer
    assert optimizer.type == 'Adam'
    want, losses = _paper_estimate(
        model, train, train, heldout, lambda p: torch.optim.Adam(
            p, lr=optimizer.lr, weight_decay=optimizer.weight_decay), 2)
    torch.testing.assert_close(
        state['balancer.estimate_losses'], losses, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(
        state['balancer.weights'], want, rtol=1e-3, atol=1e-5)


# ----------------------------------------------------------------------
# the training step
# ----------------------------------------------------------------------
def test_one_step_is_the_weighted_loss_step():
    model = _gblend(seed=4)
    weights = torch.tensor([0.2, 0.3, 0.5])
    model.balancer.weights.copy_(weights)
    model.balancer.estimate_epoch.fill_(1)
    reference = copy.deepcopy(model)
    data = batch(10, seed=5)

    wrapper = BalancedOptimWrapper(
        optimizer=torch.optim.SGD(model.parameters(), lr=0.7))
    torch.manual_seed(6)  # the same dropout masks as the reference
    log_vars = model.train_step(copy.deepcopy(data), wrapper)

    optimizer = torch.optim.SGD(reference.parameters(), lr=0.7)
    torch.manual_seed(6)
    x = _inputs(reference.data_preprocessor(copy.deepcopy(data), True))
    labels = _labels(data)
    feats = {m: reference.encoders[m](x[m]) for m in reference.modalities}
    loss = weights[2] * F.cross_entropy(
        reference.cls_head(reference.fusion(feats)), labels)
    for i, m in enumerate(('audio', 'visual')):
        loss = loss + weights[i] * F.cross_entropy(
            reference.unimodal_heads[m](feats[m]), labels)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()

    for (name, p), q in zip(model.named_parameters(), reference.parameters()):
        torch.testing.assert_close(p, q, msg=name)
    assert log_vars['loss'].item() == pytest.approx(loss.item(), rel=1e-5)
    assert log_vars['gblend_weight_fused'].item() == pytest.approx(0.5)
    assert log_vars['gblend_weight_audio'].item() == pytest.approx(0.2)


def test_training_before_an_estimate_names_the_hook():
    model = _gblend()
    data = batch()
    with pytest.raises(RuntimeError, match='never estimated.*BalancerHook'):
        model.loss(_inputs(data), data['data_samples'])


# ----------------------------------------------------------------------
# the formula, the carve and the arguments
# ----------------------------------------------------------------------
def test_weights_formula_on_hand_values():
    # Head 0: G = 1.0 - 0.8 = 0.2, O = (0.8 - 0.3) - (1.0 - 0.9) = 0.4.
    # Head 1: G = 1.0 - 1.2 = -0.2 (worse), O = (1.2 - 0.2) - 0.1 = 0.9.
    # Head 2: G = 0.5, O = (0.5 - 0.5) - (1.0 - 0.5) = -0.5.
    t0 = torch.tensor([0.9, 0.9, 0.5])
    v0 = torch.tensor([1.0, 1.0, 1.0])
    tn = torch.tensor([0.3, 0.2, 0.5])
    vn = torch.tensor([0.8, 1.2, 0.5])
    raw = torch.tensor([0.2 / 0.16, 0.2 / 0.81, 0.5 / 0.25])
    torch.testing.assert_close(
        blending_weights(t0, v0, tn, vn), raw / raw.sum())
    # No change in overfitting: O^2 is floored at eps.
    flat = blending_weights(t0, v0, t0 - 0.2, v0 - 0.2, eps=1e-8)
    torch.testing.assert_close(flat, torch.full((3, ), 1 / 3))
    # eps=0.5 floors O^2 = 0 (head 0) and 0.25 (head 2), not 0.64.
    floored = blending_weights(
        t0, v0, torch.tensor([0.7, 0.3, 0.5]), vn, eps=0.5)
    raw = torch.tensor([0.2 / 0.5, 0.2 / 0.64, 0.5 / 0.5])
    torch.testing.assert_close(floored, raw / raw.sum())
    # No gain anywhere: uniform weights.
    torch.testing.assert_close(
        blending_weights(t0, v0, tn, v0), torch.full((3, ), 1 / 3))


def test_the_carve_holds_out_a_fixed_fraction_never_trained_on():
    train, held = heldout_split(20, 0.1, 0)
    assert len(held) == 2 and len(train) == 18
    assert sorted(train + held) == list(range(20))
    assert heldout_split(20, 0.1, 0) == (train, held)
    assert heldout_split(20, 0.1, 1)[1] != held
    assert len(heldout_split(20, 0.25, 0)[1]) == 5
    assert len(heldout_split(5, 0.1, 0)[1]) == 1  # at least one sample
    with pytest.raises(ValueError, match='leaves nothing to train on'):
        heldout_split(1, 0.5, 0)

    dataset = list(range(20))
    sampler = HeldOutSampler(dataset, shuffle=True, seed=3)
    epoch0 = list(sampler)
    assert sorted(epoch0) == train and len(sampler) == 18
    sampler.set_epoch(1)
    assert list(sampler) != epoch0 and sorted(sampler) == train
    heldout = HeldOutSampler(
        dataset, shuffle=False, heldout_fraction=0.25, part='heldout')
    assert list(heldout) == heldout_split(20, 0.25, 0)[1]
    with pytest.raises(ValueError, match='heldout_fraction=1.0'):
        HeldOutSampler(dataset, heldout_fraction=1.0)


def test_interval_sets_the_estimates():
    assert _gblend(interval=9).balancer.estimate_epochs(27) == [1, 10, 19]
    assert _gblend(interval=3).balancer.estimate_epochs(7) == [1, 4, 7]
    # Offline: one estimate before the first epoch.
    assert _gblend(interval=None).balancer.estimate_epochs(27) == [1]


@pytest.mark.slow
def test_the_offline_estimate_trains_copies_for_the_whole_schedule(
        avdigits_root, tmp_path):
    """interval=None: the estimate before epoch 1 trains each copy for
    max_epochs (2 here), none follows; interval=1 re-estimates before
    epoch 2 with copies of one epoch."""
    logs = {}
    for interval in (None, 1):
        work = tmp_path / str(interval)
        runner = build_runner(CONFIG, work, [
            *data_root_cfg_options(avdigits_root), 'train_cfg.max_epochs=2',
            f'model.balancer.interval={interval}'
        ])
        runner.train()
        logs[interval] = open(runner.logger.log_file).read()
        state = torch.load(work / 'epoch_2.pth')['state_dict']
        assert int(
            state['balancer.estimate_epoch']) == (1 if interval is None else 2)
    assert logs[None].count('GradientBlending: weights') == 1
    assert 'for epochs 1-2 from copies trained 2 epochs' in logs[None]
    assert logs[1].count('GradientBlending: weights') == 2
    assert 'for epochs 2-2 from copies trained 1 epochs' in logs[1]


# ----------------------------------------------------------------------
# errors
# ----------------------------------------------------------------------
def test_a_model_it_cannot_blend_is_refused_at_build():
    with pytest.raises(ValueError, match='one linear head per encoder'):
        build(balancer=dict(type='GradientBlending'))
    with pytest.raises(
            ValueError, match='classification head with '
            'num_classes >= 2'):
        build(
            unimodal_head=UNIMODAL_HEAD,
            cls_head=dict(type='LinearClsHead', num_classes=1),
            balancer=dict(type='GradientBlending'))
    with pytest.raises(ValueError, match='interval=0 must be an integer'):
        _gblend(interval=0)
    with pytest.raises(ValueError, match='eps=0 must be > 0'):
        _gblend(eps=0)


def test_three_modalities_blend_four_heads():
    model = build(
        encoders=THREE_ENCODERS,
        unimodal_head=UNIMODAL_HEAD,
        balancer=dict(type='GradientBlending'))
    assert model.balancer.heads == ('audio', 'visual', 'text', 'fused')
    assert model.balancer.weights.shape == (4, )


def test_a_training_loader_that_reads_the_heldout_samples_is_refused(
        avdigits_root, tmp_path):
    runner = build_runner(
        CONFIG,
        tmp_path / 'work',
        data_root_cfg_options(avdigits_root),
        train_dataloader=dict(
            sampler=dict(_delete_=True, type='DefaultSampler', shuffle=True)))
    with pytest.raises(TypeError, match="sampler=dict\\(type='HeldOutSampler"):
        runner.train()


def test_config_is_joint_training_plus_the_method_fragment():
    cfg = Config.fromfile(CONFIG)
    fragment = Config.fromfile(FRAGMENT)
    assert cfg.model.balancer == fragment.model.balancer == dict(
        type='GradientBlending', interval=9)
    assert cfg.train_dataloader.sampler == dict(
        type='HeldOutSampler',
        shuffle=True,
        heldout_fraction=0.1,
        split_seed=0)


@pytest.mark.slow
def test_a_run_resumed_before_a_re_estimate_is_bit_identical(
        avdigits_root, tmp_path):
    """interval=2: estimates before epochs 1 and 3. A run interrupted
    during epoch 3 resumes from epoch_2.pth and estimates epoch 3's weights
    again; it ends bit-identical to the uninterrupted run (the estimate
    draws nothing from the training stream and depends on nothing that the
    checkpoint lacks)."""
    options = [
        *data_root_cfg_options(avdigits_root), 'train_cfg.max_epochs=4',
        'model.balancer.interval=2'
    ]
    build_runner(CONFIG, tmp_path / 'straight', options).train()
    work = tmp_path / 'interrupted'
    for resume in (False, True):
        runner = build_runner(CONFIG, work, [*options, f'resume={resume}'])
        if not resume:
            runner.register_hook(InterruptHook(3, 'mid_epoch'))
            with pytest.raises(Interrupt):
                runner.train()
        else:
            runner.train()
    want = torch.load(tmp_path / 'straight' / 'epoch_4.pth')['state_dict']
    got = torch.load(work / 'epoch_4.pth')['state_dict']
    assert int(got['balancer.estimate_epoch']) == 3
    assert want.keys() == got.keys()
    for key, value in want.items():
        assert torch.equal(got[key], value), key


# ----------------------------------------------------------------------
# DDP
# ----------------------------------------------------------------------
@pytest.mark.slow
def test_ranks_blend_with_the_same_weights_under_ddp(avdigits_root, tmp_path):
    """2 processes through tools/train.py: each rank trains the copies on
    its share (gradients averaged) and evaluates its share of both parts;
    the loss sums are summed over the ranks, so both ranks estimate the
    same weights and end with the same parameters and buffers. (Without
    that sum the ranks' weights differ; DDP's averaged gradients still
    keep the parameters alike, so the buffers show it.)"""
    config = parameter_dump_config(tmp_path, CONFIG)
    work = tmp_path / 'work'
    result = train_tool(
        work, [
            *data_root_cfg_options(avdigits_root), 'train_cfg.max_epochs=2',
            'model.balancer.interval=1'
        ],
        nproc=2,
        config=config)
    assert 'gblend_weight_fused' in result.stdout + result.stderr
    ranks = [torch.load(work / f'rank{r}_parameters.pth') for r in (0, 1)]
    assert ranks[0].keys() == ranks[1].keys()
    assert int(ranks[0]['balancer.estimate_epoch']) == 2
    for name, value in ranks[0].items():
        assert torch.equal(value, ranks[1][name]), name


@pytest.mark.slow
def test_two_ranks_estimate_and_train_as_one_process(avdigits_root, tmp_path):
    """2 processes of 5 samples per step against one of 10 (SGD, no
    BatchNorm): the copies' gradients are averaged and the loss sums summed
    over the ranks, so the weights, the copies and the blended steps equal
    one process's (up to rounding)."""
    log = two_ranks_equal_one_process(
        CONFIG, tmp_path, lambda size: [
            *whole_batch_options(avdigits_root, size),
            'model.balancer.interval=1'
        ])
    assert 'GradientBlending: weights for epochs 1-1' in log
