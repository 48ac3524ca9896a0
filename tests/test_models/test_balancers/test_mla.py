"""MLA: the math against the authors' functions; an epoch of alternating
uni-modal steps through BalancedOptimWrapper against the authors' loop
written out here (``train_epoch`` with ``gs_flag``, ``GSPlugin``, torch 1.8's
``zero_grad``); uncertainty-weighted prediction against their ``valid``;
the argument; refusals at build and at the first step; identical replicas
under DDP (2 processes)."""
import copy
import math
import os.path as osp
import threading
from types import SimpleNamespace
from unittest import mock

import pytest
import torch
import torch.nn.functional as F
from balancer_models import THREE_ENCODERS, batch, build
from balancer_ddp import two_ranks_equal_one_process, whole_batch_options
from balancer_test_hooks import parameter_dump_config
from conftest import REPO
from mmengine.logging import MessageHub
from mmengine.model import MMDistributedDataParallel
from mmengine.optim import OptimWrapper
from mmengine.optim.optimizer import amp_optimizer_wrapper
from runs import train_tool

from mmdr.engine.optimizers import (BalancedAmpOptimWrapper,
                                    BalancedOptimWrapper)
from mmdr.models.balancers import MLA, mla
from mmdr.models.balancers.mla import (batch_entropy, entropies_over_ranks,
                                       entropy_weights, mean_over_ranks,
                                       projection_alpha, update_projection)
from mmdr.utils import register_all_modules

register_all_modules()

#: The shared head's width in the test model.
WIDTH = 6
SHARED_HEAD = dict(fusion=dict(type='SumFusion', out_channels=WIDTH))


def _mla(seed=0, **kwargs):
    return build(seed=seed, balancer=dict(type='MLA', **kwargs), **SHARED_HEAD)


# The authors' functions (main.py, utils/utils.py), as they are written.
def _authors_entropy(output):
    probabilities = F.softmax(output, dim=0)
    return -torch.sum(probabilities * torch.log(probabilities))


def _authors_gating_weights(*outputs):
    entropies = [_authors_entropy(out) for out in outputs]
    top = max(entropies)
    weights = [torch.exp(top - e) for e in entropies]
    return [w / sum(weights) for w in weights]


def _authors_before_update(pl, grad, before_batch_input, batch_index,
                           len_dataloader, train_exp_counter):
    """GSPlugin.before_update on the shared head's weight gradient:
    returns the new ``Pl`` and gradient."""
    lamda = batch_index / len_dataloader + 1
    alpha = 1.0 * 0.1**lamda
    if train_exp_counter != 0:
        r = torch.mean(before_batch_input, 0, True)
        k = torch.mm(pl, torch.t(r))
        pl = torch.sub(pl, torch.mm(k, torch.t(k)) / (alpha + torch.mm(k, r)))
        pl = pl / torch.norm(pl, p='fro')
        grad = torch.mm(grad, torch.t(pl))
    return pl, grad


def test_math_is_the_authors():
    gen = torch.Generator().manual_seed(0)
    assert projection_alpha(0, 4) == pytest.approx(0.1)
    assert projection_alpha(2, 4) == pytest.approx(0.1**1.5)
    pl = torch.eye(5)
    inputs = torch.rand(8, 5, generator=gen)
    grad = torch.randn(3, 5, generator=gen)
    for step in range(3):
        expected, _ = _authors_before_update(pl, grad, inputs + step, 1, 4, 1)
        pl_new = update_projection(pl, (inputs + step).mean(0, True),
                                   projection_alpha(1, 4))
        torch.testing.assert_close(pl_new, expected)
        pl = pl_new
    logits = [torch.randn(7, 4, generator=gen) * s for s in (1, 3, 0.2)]
    for out in logits:
        torch.testing.assert_close(batch_entropy(out), _authors_entropy(out))
    for outs in (logits[:2], logits):
        weights = entropy_weights(
            torch.stack([batch_entropy(o) for o in outs]))
        torch.testing.assert_close(weights,
                                   torch.stack(_authors_gating_weights(*outs)))
    # 0 log 0 is 0 where the authors' log gives NaN.
    assert batch_entropy(torch.tensor([[0.0], [-200.0]])).item() == 0.0


class _TwoRanks:
    """Two ranks as two threads whose ``all_reduce`` meets at a barrier:
    what one rank computes in a collective reduction, with the other's
    part."""

    def __init__(self):
        self.barrier = threading.Barrier(2, timeout=30)
        self.parts = [None, None]
        self.local = threading.local()

    def all_reduce(self, tensor, op='sum'):
        self.parts[self.local.rank] = tensor.clone()
        self.barrier.wait()
        first, second = self.parts
        reduced = dict(
            sum=first + second, max=torch.maximum(first, second))[op]
        self.barrier.wait()
        tensor.copy_(reduced)

    def run(self, function, parts):
        results = [None, None]

        def rank(r):
            self.local.rank = r
            results[r] = function(parts[r])

        threads = [threading.Thread(target=rank, args=(r, )) for r in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return results


def test_batch_statistics_span_every_ranks_batch(monkeypatch):
    """The projection's mean input and the test-time entropies of two
    ranks' batches (of unequal sizes, as a data set's last batch) are
    those of one process holding both."""
    ranks = _TwoRanks()
    monkeypatch.setattr(mla, 'get_world_size', lambda: 2)
    monkeypatch.setattr(mla, 'all_reduce', ranks.all_reduce)
    gen = torch.Generator().manual_seed(0)
    rows = torch.rand(9, 5, generator=gen)
    for mean in ranks.run(mean_over_ranks, [rows[:5], rows[5:]]):
        torch.testing.assert_close(mean, rows.mean(0, True))
    logits = [torch.randn(9, 4, generator=gen) * s for s in (1.0, 4.0)]
    halves = [[out[:5] for out in logits], [out[5:] for out in logits]]
    expected = [batch_entropy(out) for out in logits]
    for entropies in ranks.run(entropies_over_ranks, halves):
        torch.testing.assert_close(
            torch.stack(entropies), torch.stack(expected))


class _Iteration:
    """Sets the training iteration that the balancer reads from mmengine's
    message hub; restored afterwards."""

    def __enter__(self):
        self.hub = MessageHub.get_current_instance()
        self.saved = self.hub.get_info('iter')
        return self

    def set(self, iteration):
        self.hub.update_info('iter', iteration)

    def __exit__(self, *args):
        if self.saved is None:
            self.hub.runtime_info.pop('iter', None)
        else:
            self.hub.update_info('iter', self.saved)


def _optimizer(params):
    # The authors' optimiser (main.py), at a larger learning rate.
    return torch.optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=1e-4)


BATCHES = [batch(seed=s) for s in (1, 2, 3)]


def _train_epoch(model, wrapper_type=BalancedOptimWrapper):
    """An epoch of the batches through mmengine's train_step (iterations
    0..2 of the run); returns the logged values of each step."""
    model.balancer.before_train_epoch(
        SimpleNamespace(model=model, train_dataloader=BATCHES))
    wrapper = wrapper_type(optimizer=_optimizer(model.parameters()))
    logs = []
    with _Iteration() as iteration:
        for i, data in enumerate(BATCHES):
            iteration.set(i)
            torch.manual_seed(5 + i)  # the reference's dropout masks
            logs.append(model.train_step(copy.deepcopy(data), wrapper))
    return logs


def _authors_epoch(model, gradient_modification=True, set_to_none=False):
    """The authors' train_epoch with gs_flag, on a copy of the model:
    every encoder once per batch, then per modality the shared head on its
    feature, backward, GSPlugin.before_update, step and zero_grad (torch
    1.8: zeroes, set_to_none=False); at the batch's end ``del p.grad``."""
    model = copy.deepcopy(model)
    model.balancer = None
    optimizer = _optimizer(model.parameters())
    weight = model.cls_head.fc_cls.weight
    pl, exp_count = torch.eye(WIDTH), 0
    ces = []
    for batch_step, data in enumerate(BATCHES):
        data = model.data_preprocessor(copy.deepcopy(data), True)
        labels = torch.stack([s.gt_labels.item for s in data['data_samples']])
        labels = labels.view(-1)
        optimizer.zero_grad(set_to_none=set_to_none)
        torch.manual_seed(5 + batch_step)
        feats = model.extract_feat(data['inputs'])
        ce = {}
        for m in ('audio', 'visual'):
            inputs = model.fusion.projections[m](feats[m])
            loss = F.cross_entropy(model.cls_head.fc_cls(inputs), labels)
            ce[m] = loss.item()
            loss.backward()
            if gradient_modification:
                pl, weight.grad = _authors_before_update(
                    pl, weight.grad, inputs.detach(), batch_step, len(BATCHES),
                    exp_count)
            optimizer.step()
            optimizer.zero_grad(set_to_none=set_to_none)
            exp_count += 1
        for p in model.parameters():
            p.grad = None
        ces.append(ce)
    return model, pl, ces


def _assert_same_parameters(model, reference):
    for (name, p), q in zip(model.named_parameters(), reference.parameters()):
        assert torch.equal(p, q), name


def test_an_epoch_is_the_authors_alternating_loop():
    model = _mla()
    reference, pl, ces = _authors_epoch(model)
    logs = _train_epoch(model)
    _assert_same_parameters(model, reference)
    torch.testing.assert_close(model.balancer.projection, pl)
    assert int(model.balancer.num_updates) == 6
    for log, ce in zip(logs, ces):
        for m in ('audio', 'visual'):
            assert log[f'mla_ce_{m}'].item() == pytest.approx(ce[m])
        # mmengine's loss is the last modality's.
        assert log['loss'].item() == pytest.approx(ce['visual'])
    # The earlier modality's encoder takes momentum steps with the zero
    # gradient torch 1.8 leaves it: training differs where it is dropped.
    dropped, _, _ = _authors_epoch(_mla(), set_to_none=True)
    audio = dict(model.encoders.audio.named_parameters())
    assert any(not torch.allclose(p, audio[n])
               for n, p in dropped.encoders.audio.named_parameters())


def test_without_gradient_modification_the_head_gradient_stays():
    """gradient_modification=False: the authors' published loop, where
    GSPlugin never finds its parameter; the projection stays the identity
    and training differs from the default."""
    model = _mla(gradient_modification=False)
    reference, _, _ = _authors_epoch(model, gradient_modification=False)
    _train_epoch(model)
    _assert_same_parameters(model, reference)
    assert torch.equal(model.balancer.projection, torch.eye(WIDTH))
    modified = _mla()
    _train_epoch(modified)
    head = model.cls_head.fc_cls.weight
    assert not torch.allclose(head, modified.cls_head.fc_cls.weight)


def test_prediction_is_weighted_by_uncertainty_as_the_authors_valid():
    model = _mla()
    _train_epoch(model)
    data = batch(seed=7)
    model.eval()
    with torch.no_grad():
        outputs = model.val_step(copy.deepcopy(data))
        feats = model.extract_feat(
            model.data_preprocessor(copy.deepcopy(data), False)['inputs'])
        out_a, out_v = (
            model.cls_head.fc_cls(model.fusion.projections[m](feats[m]))
            for m in ('audio', 'visual'))
    conf_a, conf_v = _authors_gating_weights(out_a, out_v)
    assert 0.05 < conf_a.item() < 0.95
    expected = F.softmax(out_a * conf_a + out_v * conf_v, dim=1)
    scores = torch.stack([o.pred_scores.item for o in outputs])
    torch.testing.assert_close(scores, expected)


def test_three_modalities_train_in_config_order():
    encoders = copy.deepcopy(THREE_ENCODERS)
    model = build(
        encoders=encoders,
        balancer=dict(type='MLA'),
        fusion=dict(type='SumFusion', out_channels=WIDTH))
    data = batch()
    data['inputs']['text'] = [torch.randn(3) for _ in range(12)]
    model.balancer.before_train_epoch(
        SimpleNamespace(model=model, train_dataloader=[0]))
    wrapper = BalancedOptimWrapper(optimizer=_optimizer(model.parameters()))
    log = model.train_step(data, wrapper)
    assert int(model.balancer.num_updates) == 3
    assert log['loss'] == log['mla_ce_text']
    assert {'mla_ce_audio', 'mla_ce_visual'} <= set(log)


@pytest.mark.parametrize('overrides, message', [
    (dict(), r'MLA classifies every modality with one shared head.*'
     'ConcatFusion and LinearClsHead'),
    (dict(modalities=['audio'], **SHARED_HEAD),
     r"MLA balances two or more modalities; the model trains only \['audio'"),
])
def test_a_model_without_the_shared_head_is_refused_at_build(
        overrides, message):
    with pytest.raises(ValueError, match=message):
        build(balancer=dict(type='MLA'), **overrides)


def test_steps_it_cannot_take_are_refused_at_the_first_step():
    model = _mla()
    params = model.parameters
    with pytest.raises(RuntimeError, match="optim_wrapper.type='Balanced"):
        model.train_step(batch(), OptimWrapper(optimizer=_optimizer(params())))
    with pytest.raises(
            ValueError,
            match='MLA makes one optimiser step per '
            'modality and batch.*accumulative_counts=2'):
        model.train_step(
            batch(),
            BalancedOptimWrapper(
                optimizer=_optimizer(params()), accumulative_counts=2))
    with pytest.raises(
            RuntimeError, match="training epoch's length.*"
            'BalancerHook'):
        model.train_step(batch(),
                         BalancedOptimWrapper(optimizer=_optimizer(params())))
    assert all(p.grad is None for p in params())


def test_mixed_precision_is_refused_at_the_first_step(monkeypatch):
    # mmengine builds an AmpOptimWrapper only where it finds a GPU.
    monkeypatch.setattr(amp_optimizer_wrapper, 'is_cuda_available',
                        lambda: True)
    model = _mla()
    wrapper = BalancedAmpOptimWrapper(
        optimizer=_optimizer(model.parameters()), dtype='bfloat16')
    with pytest.raises(ValueError, match=r'mixed precision \(--amp'):
        model.train_step(batch(), wrapper)


def test_state_is_in_the_checkpoint():
    model = _mla()
    _train_epoch(model)
    state = model.state_dict()
    assert int(state['balancer.num_updates']) == 6
    fresh = _mla(seed=1)
    fresh.load_state_dict(state)
    assert torch.equal(fresh.balancer.projection, model.balancer.projection)
    assert isinstance(fresh.balancer, MLA)
    assert not torch.equal(fresh.balancer.projection, torch.eye(WIDTH))
    assert math.isfinite(fresh.balancer.projection.sum().item())


@pytest.mark.parametrize('find_unused', [True, False])
def test_ddp_without_find_unused_parameters_is_refused(find_unused):
    model = _mla()
    ddp = mock.Mock(spec=MMDistributedDataParallel)
    ddp.find_unused_parameters = find_unused
    runner = SimpleNamespace(model=ddp, train_dataloader=BATCHES)
    if find_unused:
        model.balancer.before_train_epoch(runner)
        assert model.balancer._epoch_length == len(BATCHES)
    else:
        with pytest.raises(RuntimeError, match='find_unused_parameters=True'):
            model.balancer.before_train_epoch(runner)


@pytest.mark.slow
def test_ranks_stay_identical_and_equal_one_process_under_ddp(
        avdigits_root, tmp_path):
    """2 processes of 5 samples per step against one of 10, two epochs of
    two steps. With the projection: the uni-modal steps inside the forward
    pass average their gradients over the ranks, the projection reads the
    mean input of every rank's batch, and DDP (find_unused_parameters, from
    the config) leaves the earlier modality's zero gradients: the ranks end
    bit-identical, validation's entropies reduced over them on the way.
    Without it, the ranks also equal one process holding the whole batch
    (with it only loosely: the projection update divides by ``alpha + k r``,
    which comes near zero and magnifies the rounding of the mean over ranks
    into about 1% of ``P``)."""
    config = parameter_dump_config(tmp_path,
                                   osp.join(REPO, 'configs/mla_avdigits.py'))

    def options(batch_size, *extra):
        return [
            *whole_batch_options(avdigits_root, batch_size),
            'train_cfg.max_epochs=2', *extra
        ]

    work = tmp_path / 'projected'
    result = train_tool(work, options(5), nproc=2, config=config)
    assert 'mla_ce_audio' in result.stdout + result.stderr
    ranks = [torch.load(work / f'rank{r}_parameters.pth') for r in (0, 1)]
    assert int(ranks[0]['balancer.num_updates']) == 8
    assert not torch.equal(ranks[0]['balancer.projection'], torch.eye(512))
    for name, value in ranks[0].items():
        assert torch.equal(value, ranks[1][name]), name

    plain = tmp_path / 'plain'
    plain.mkdir()
    two_ranks_equal_one_process(
        osp.join(REPO, 'configs/mla_avdigits.py'), plain,
        lambda batch_size: options(
            batch_size, 'model.balancer.gradient_modification=False'))
