"""InfoReg: three epochs through BalancedOptimWrapper against the authors'
train_epoch written out here, the acquisition rate and coefficients
against their formulas, the documented effect of every argument, the
errors, and two DDP processes against one."""
import copy
import math
import os.path as osp
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from balancer_ddp import two_ranks_equal_one_process, whole_batch_options
from balancer_models import batch, build
from conftest import REPO
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop

from mmdr.engine.optimizers import BalancedOptimWrapper
from mmdr.models.balancers import InfoReg
from mmdr.models.balancers.inforeg import (acquisition_rate,
                                           regulation_coefficients)
from mmdr.utils import register_all_modules

register_all_modules()

BATCHES = [batch(seed=s) for s in (1, 2, 3)]
#: The authors' strengths and gate: audio's trace gates both modalities.
AUTHORS = dict(strength=dict(audio=0.95, visual=0.1), window_modality='audio')


def _runner(model, epochs_done, loop=EpochBasedTrainLoop):
    # What before_train_epoch reads of a Runner.
    return SimpleNamespace(
        model=model, epoch=epochs_done, train_loop=loop.__new__(loop))


def _optimizer(params):
    # The authors' optimiser (main.py), at a larger learning rate.
    return torch.optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=1e-4)


def _train(model, epochs, batches=BATCHES):
    """``epochs`` epochs of ``batches`` through mmengine's train_step, with
    BalancerHook's call before each; returns every step's logged values."""
    wrapper = BalancedOptimWrapper(optimizer=_optimizer(model.parameters()))
    logs = []
    for epoch in range(epochs):
        model.balancer.before_train_epoch(_runner(model, epoch))
        for i, data in enumerate(batches):
            torch.manual_seed(5 + i)  # the reference's dropout masks
            logs.append(model.train_step(copy.deepcopy(data), wrapper))
    return logs


def _authors_epochs(model, batches, epochs, strength, window, threshold):
    """The authors' main and train_epoch (modulation 'Ours') on a copy of
    the model: the trace lists start with ``window`` zeros; per epoch ``k``
    from the audio trace, ``global_model = deepcopy(model)``; per batch the
    backward of loss_v, loss_a and loss, the scores, beta or beta2, the
    proximal gradient, the squared gradients of the encoders' linear
    weights, the step. Returns the model and the trace lists."""
    model = copy.deepcopy(model)
    model.balancer = None
    optimizer = _optimizer(model.parameters())
    traces = dict(audio=[0] * window, visual=[0] * window)
    softmax, tanh = nn.Softmax(dim=1), nn.Tanh()
    weight, bias = model.cls_head.fc_cls.weight, model.cls_head.fc_cls.bias
    for epoch in range(epochs):
        if epoch == 0:
            k = 1
        else:
            tr1 = sum(traces['audio'][-window:]) / window
            tr2 = sum(traces['audio'][-window - 1:-1]) / window
            k = (tr1 - tr2) / tr1
        global_model = copy.deepcopy(model)
        fim = {
            m: {
                name: torch.zeros_like(module.weight)
                for name, module in model.encoders[m].named_modules()
                if isinstance(module, nn.Linear)
            }
            for m in ('audio', 'visual')
        }
        for i, data in enumerate(batches):
            optimizer.zero_grad()
            data = model.data_preprocessor(copy.deepcopy(data), True)
            torch.manual_seed(5 + i)
            feats = model.extract_feat(data['inputs'])
            label = torch.stack(
                [s.gt_labels.item for s in data['data_samples']]).view(-1)
            out = model.cls_head(model.fusion(feats))
            out_v = feats['visual'] @ weight[:, 7:].t() + bias / 2
            out_a = feats['audio'] @ weight[:, :7].t() + bias / 2
            loss = F.cross_entropy(out, label)
            loss_out_v = F.cross_entropy(out_v, label)
            loss_out_a = F.cross_entropy(out_a, label)
            loss_out_v.backward(retain_graph=True)
            loss_out_a.backward(retain_graph=True)
            loss.backward()
            score_v = sum(
                [softmax(out_v)[j][label[j]] for j in range(out_v.size(0))])
            score_a = sum(
                [softmax(out_a)[j][label[j]] for j in range(out_a.size(0))])
            beta = beta2 = 0
            if score_a > score_v and k > threshold:
                beta = strength['audio'] * torch.exp(tanh(score_a - score_v))
            elif score_a < score_v and k > threshold:
                beta2 = strength['visual'] * torch.exp(tanh(score_v - score_a))
            with torch.no_grad():
                for m, coeff in (('audio', beta), ('visual', beta2)):
                    for p, p0 in zip(model.encoders[m].parameters(),
                                     global_model.encoders[m].parameters()):
                        p.grad += coeff * (p - p0)
                    for name, module in model.encoders[m].named_modules():
                        if isinstance(module, nn.Linear):
                            fim[m][name] += module.weight.grad**2
            optimizer.step()
        for m in ('audio', 'visual'):
            traces[m].append(sum(f.mean().item() for f in fim[m].values()))
    return model, traces


def _audio_dominant(data):
    # Without visual input the audio slice scores higher.
    data = copy.deepcopy(data)
    data['inputs']['visual'] = [x * 0 for x in data['inputs']['visual']]
    return data


def test_four_epochs_equal_the_authors_loop():
    """With a window of one epoch and a threshold of 0.8 the audio trace
    opens the window in epochs 1 and 2 (k = 1 before two traces exist)
    and 3, and its slower growth closes it in epoch 4. The first batch
    regulates the visual encoder, the second the audio encoder."""
    model = build(
        balancer=dict(
            type='InfoReg', trace_window=1, window_threshold=0.8, **AUTHORS))
    batches = [BATCHES[0], _audio_dominant(BATCHES[1])]
    reference, traces = _authors_epochs(model, batches, 4, AUTHORS['strength'],
                                        1, 0.8)
    logs = _train(model, 4, batches)
    audio = traces['audio']
    assert [(audio[e] - audio[e - 1]) / audio[e] > 0.8
            for e in (2, 3)] == [True, False]
    betas = [[log[f'inforeg_beta_{m}'] > 0 for m in ('audio', 'visual')]
             for log in logs]
    assert betas[1:6] == [[True, False], [False, True]] * 2 + [[True, False]]
    assert betas[6:] == [[False, False]] * 2
    for (name, p), ref in zip(model.named_parameters(),
                              reference.parameters()):
        torch.testing.assert_close(p, ref, msg=name)
    # Epoch 4's traces are recorded when epoch 5 starts.
    model.balancer.before_train_epoch(_runner(model, 4))
    history = model.balancer.trace_history
    for i, m in enumerate(('audio', 'visual')):
        torch.testing.assert_close(
            history[i].tolist(), traces[m][-2:], rtol=1e-5, atol=0)


def test_rate_is_the_authors_k():
    gen = torch.Generator().manual_seed(0)
    for window in (1, 3, 10):
        traces = [0.0] * window + torch.rand(12, generator=gen).tolist()
        for end in range(window + 1, len(traces) + 1):
            seen = traces[:end]
            tr1 = sum(seen[-window:]) / window
            tr2 = sum(seen[-window - 1:-1]) / window
            assert acquisition_rate(seen[-window - 1:],
                                    end - window) == (tr1 - tr2) / tr1
    assert acquisition_rate([0.0] * 11, 0) == 1.0  # the code's epoch 0
    assert acquisition_rate([0.0] * 11, 3) == 0.0  # where it divides by 0


def test_coefficients_regulate_the_higher_score():
    coeffs = regulation_coefficients(torch.tensor([5.0, 3.5]), [0.95, 0.1])
    assert coeffs.tolist() == pytest.approx(
        [0.95 * math.exp(math.tanh(1.5)), 0.0])
    coeffs = regulation_coefficients(torch.tensor([3.0, 3.2]), [0.95, 0.1])
    assert coeffs.tolist() == pytest.approx(
        [0.0, 0.1 * math.exp(math.tanh(0.2))])
    assert regulation_coefficients(torch.tensor([2.0, 2.0]),
                                   [1.0, 1.0]).tolist() == [0.0, 0.0]


def _first_epoch_betas(**kwargs):
    model = build(balancer=dict(type='InfoReg', **kwargs))
    return model, _train(model, 1)


def test_strength_scales_beta_per_modality():
    _, one = _first_epoch_betas(strength=1.0)
    _, two = _first_epoch_betas(strength=dict(audio=2.0, visual=3.0))
    # The first step has no proximal term (theta is the anchor), so both
    # runs see the same scores in their first two steps.
    assert sum(log['inforeg_beta_audio'] + log['inforeg_beta_visual']
               for log in one[:2]) > 0
    for log_one, log_two in zip(one[:2], two[:2]):
        for m, factor in (('audio', 2.0), ('visual', 3.0)):
            assert log_two[f'inforeg_beta_{m}'].item() == pytest.approx(
                factor * log_one[f'inforeg_beta_{m}'].item())


def test_the_proximal_term_holds_the_dominant_encoder_near_its_anchor():
    strong, logs = _first_epoch_betas(strength=2.0)
    plain, _ = _first_epoch_betas(strength=0.0)
    start = build()
    dominant = 'audio' if logs[-1]['inforeg_beta_audio'] > 0 else 'visual'
    distance = [
        sum((p - q).norm().item()
            for p, q in zip(net.encoders[dominant].parameters(),
                            start.encoders[dominant].parameters()))
        for net in (strong, plain)
    ]
    assert distance[0] < 0.9 * distance[1]


def _epoch_with_rates(rates, **kwargs):
    """One step of epoch 2 after an epoch whose rates are set by hand;
    returns the logged values."""
    model = build(balancer=dict(type='InfoReg', **kwargs))
    balancer = model.balancer
    balancer.before_train_epoch(_runner(model, 0))
    balancer.rates.copy_(torch.tensor(rates, dtype=torch.float64))
    wrapper = BalancedOptimWrapper(optimizer=_optimizer(model.parameters()))
    torch.manual_seed(5)
    return model.train_step(copy.deepcopy(BATCHES[0]), wrapper)


def test_window_threshold_closes_the_window():
    log = _epoch_with_rates([0.2, 0.2], window_threshold=0.1)
    dominant = 'audio' if log['inforeg_beta_audio'] > 0 else 'visual'
    assert log[f'inforeg_beta_{dominant}'] > 0
    log = _epoch_with_rates([0.2, 0.2], window_threshold=0.3)
    assert log['inforeg_beta_audio'] == log['inforeg_beta_visual'] == 0


def test_window_modality_gates_both_with_its_rate():
    log = _epoch_with_rates([0.2, 0.2])
    dominant = 'audio' if log['inforeg_beta_audio'] > 0 else 'visual'
    other = dict(audio='visual', visual='audio')[dominant]
    rates = {dominant: 0.0, other: 0.2}
    ordered = [rates['audio'], rates['visual']]
    log = _epoch_with_rates(ordered)
    assert log[f'inforeg_beta_{dominant}'] == 0
    log = _epoch_with_rates(ordered, window_modality=other)
    assert log[f'inforeg_beta_{dominant}'] > 0


def test_trace_window_is_the_moving_averages_length():
    """Epochs 1 and 2 train alike (k = 1); epoch 3's rate is the last
    change with a window of one epoch, and t2 / (t1 + t2) with a window of
    four (zeros before the first epoch)."""
    rates = []
    for window in (1, 4):
        model = build(
            balancer=dict(type='InfoReg', trace_window=window, **AUTHORS))
        _train(model, 2)
        model.balancer.before_train_epoch(_runner(model, 2))
        history = model.balancer.trace_history
        assert history.shape == (2, window + 1)
        assert history[:, :window - 1].eq(0).all()
        first, second = history[0, -2:].tolist()
        rates.append(model.balancer.rates[0].item())
    assert rates[0] == pytest.approx((second - first) / second)
    assert rates[1] == pytest.approx(second / (first + second))


def test_resumed_buffers_continue_the_epoch():
    model = build(balancer=dict(type='InfoReg', **AUTHORS))
    _train(model, 1)
    state = copy.deepcopy(model.state_dict())
    assert {
        'balancer.anchor_audio', 'balancer.anchor_visual',
        'balancer.epoch_traces', 'balancer.trace_history',
        'balancer.epochs_recorded', 'balancer.anchored_epoch', 'balancer.rates'
    } <= set(state)
    resumed = build(seed=3, balancer=dict(type='InfoReg', **AUTHORS))
    resumed.load_state_dict(state)
    for net in (model, resumed):
        net.balancer.before_train_epoch(_runner(net, 1))
    for name, value in model.balancer.state_dict().items():
        assert torch.equal(resumed.balancer.state_dict()[name], value), name
    assert int(model.balancer.epochs_recorded) == 1


def test_models_it_cannot_train_are_refused_at_build():
    with pytest.raises(ValueError, match='ConcatFusion'):
        build(
            fusion=dict(type='SumFusion', out_channels=8),
            balancer=dict(type='InfoReg'))
    with pytest.raises(ValueError, match=r"strength names \['audio'\]"):
        build(balancer=dict(type='InfoReg', strength=dict(audio=1.0)))
    with pytest.raises(ValueError, match="window_modality='text'"):
        build(balancer=dict(type='InfoReg', window_modality='text'))
    model = build()
    for p in model.encoders['audio'].parameters():
        p.requires_grad_(False)
    with pytest.raises(ValueError, match="encoder 'audio' has no trainable"):
        InfoReg().check_model(model)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match='strength=-1'):
        InfoReg(strength=-1)
    with pytest.raises(ValueError, match='trace_window=0'):
        InfoReg(trace_window=0)
    with pytest.raises(ValueError, match="window_threshold='a'"):
        InfoReg(window_threshold='a')


def test_a_run_without_epochs_the_hook_or_one_batch_a_step_is_refused():
    model = build(balancer=dict(type='InfoReg'))
    with pytest.raises(TypeError, match='EpochBasedTrainLoop'):
        model.balancer.before_train_epoch(
            _runner(model, 0, loop=IterBasedTrainLoop))
    wrapper = BalancedOptimWrapper(optimizer=_optimizer(model.parameters()))
    with pytest.raises(RuntimeError, match='BalancerHook'):
        model.train_step(copy.deepcopy(BATCHES[0]), wrapper)
    model.balancer.before_train_epoch(_runner(model, 0))
    wrapper = BalancedOptimWrapper(
        optimizer=_optimizer(model.parameters()), accumulative_counts=2)
    with pytest.raises(ValueError, match='accumulative_counts=2'):
        model.train_step(copy.deepcopy(BATCHES[0]), wrapper)


@pytest.mark.slow
def test_two_processes_equal_one_under_ddp(avdigits_root, tmp_path):
    """2 processes of half a batch each end with bit-identical parameters
    and buffers, equal to one process of the whole batch: the scores are
    summed over the ranks, the traces read from averaged gradients."""
    log = two_ranks_equal_one_process(
        osp.join(REPO, 'configs/inforeg_avdigits.py'), tmp_path, lambda size:
        [*whole_batch_options(avdigits_root, size), 'train_cfg.max_epochs=2'])
    assert 'inforeg_beta_visual' in log
