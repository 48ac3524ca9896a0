"""ARL: the coefficients on hand values and the amplified gradient; one
step against a reference computed here as the authors' code does; the
documented effect of every argument; the sums over ranks; the errors; the
config; and under DDP (2 processes) identical ranks that equal one process
holding the whole batch."""
import copy
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from balancer_ddp import two_ranks_equal_one_process, whole_batch_options
from balancer_models import (assert_predicts_as_joint_training,
                             assert_same_parameters, batch, build, sgd_step,
                             sharpen_head)
from conftest import REPO
from mmengine.config import Config
from mmengine.optim import OptimWrapper

from mmdr.models.balancers import ARL
from mmdr.models.balancers import arl as arl_module
from mmdr.utils import register_all_modules

register_all_modules()


@pytest.fixture
def epoch(runtime_info):
    """The balancers' epoch and iteration (conftest's ``runtime_info``),
    epoch 7 until the test sets another: within ARL's active epochs (from 3)."""
    runtime_info(7)
    return runtime_info


def _arl(**kwargs):
    """A model with ARL and a head far from uniform, with a bias, so that
    the coefficients differ from 0.5 and the whole bias of the uni-modal
    logits matters."""
    model = build(balancer=dict(type='ARL', **kwargs))
    return sharpen_head(model)


class GradScale(torch.autograd.Function):
    """models/backbone.py's GradScale: the identity, backward ``g + g * w``.
    """

    @staticmethod
    def forward(ctx, input, weight):
        ctx.save_for_backward(weight)
        return input

    @staticmethod
    def backward(ctx, grad_output):
        weight, = ctx.saved_tensors
        return grad_output + grad_output * weight, None


def _authors_weights(out_a, out_v, T):
    """main_arl_variance.py's train_epoch: the modality analysis and the
    ARL weight, in its own numpy and torch steps."""
    calculate_a = torch.mean(torch.abs(out_a), 0).sum().cpu().numpy()
    calculate_b = torch.mean(torch.abs(out_v), 0).sum().cpu().numpy()
    out_a = torch.softmax(out_a, dim=1)
    out_v = torch.softmax(out_v, dim=1)
    H_a = torch.sum(-out_a * torch.log(out_a + 1e-16), dim=1).mean().item()
    H_v = torch.sum(-out_v * torch.log(out_v + 1e-16), dim=1).mean().item()
    H_a_n, H_v_n = H_a / (H_a + H_v), H_v / (H_a + H_v)
    H_a = torch.clamp(torch.tensor(H_a_n), 0.3).numpy()
    H_v = torch.clamp(torch.tensor(H_v_n), 0.3).numpy()
    a_weight, v_weight = 1 / H_a, 1 / H_v
    calculate_a, calculate_b = (calculate_a / (calculate_a + calculate_b),
                                calculate_b / (calculate_a + calculate_b))
    a_weight, v_weight = (a_weight / (a_weight + v_weight),
                          v_weight / (a_weight + v_weight))
    return F.softmax(
        torch.tensor([(calculate_b * a_weight) * T,
                      calculate_a * v_weight * T]),
        dim=0)


def _authors_step(model, data, gamma=4.0, T=8.0, warm_up=False):
    """One batch as the authors train it, on a copy of the model: the
    fused and uni-modal outputs of ConcatFusion_AUXI (the head on the
    concatenation with the other modality zeroed), the ARL weight of the
    batch stored where GradScale reads it (the step the released script
    leaves out), the encoders' outputs through GradScale, and
    ``loss_f + (loss_a + loss_v) * gamma``; in the warm-up no GradScale and
    a weight of 1.

    Returns:
        tuple: Parameters after the step, and the weights.
    """
    model = copy.deepcopy(model)
    model.balancer = None
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    data = model.data_preprocessor(copy.deepcopy(data), True)
    label = torch.stack([s.gt_labels.item for s in data['data_samples']])
    label = label.view(-1)
    fc = model.cls_head.fc_cls
    torch.manual_seed(5)
    feats = model.extract_feat(data['inputs'])
    a, v = feats['audio'], feats['visual']

    def auxi(a, v):
        x_out = fc(torch.cat((a, torch.zeros_like(v)), dim=1))
        y_out = fc(torch.cat((torch.zeros_like(a), v), dim=1))
        return x_out, y_out

    weights = None
    if not warm_up:
        with torch.no_grad():
            weights = _authors_weights(*auxi(a.detach(), v.detach()), T)
        a = GradScale.apply(a, weights[0].clone())
        v = GradScale.apply(v, weights[1].clone())
    out = model.cls_head(model.fusion(dict(audio=a, visual=v)))
    out_a, out_v = auxi(a, v)
    criterion = torch.nn.CrossEntropyLoss()
    loss_f = criterion(out, label)
    loss_a, loss_v = criterion(out_a, label), criterion(out_v, label)
    loss = loss_f + (loss_a + loss_v) * (1 if warm_up else gamma)
    loss.backward()
    optimizer.step()
    return {n: p.detach() for n, p in model.named_parameters()}, weights


def test_coefficients_on_hand_values():
    # Equal entropies, the visual logits 3 times the audio's: the audio
    # (relied on less) gets softmax(8 * [0.75 * 0.5, 0.25 * 0.5]).
    coeffs = arl_module.asymmetric_coefficients(
        torch.tensor([1.0, 3.0]), torch.tensor([2.0, 2.0]), 8.0, 0.3)
    torch.testing.assert_close(coeffs, F.softmax(torch.tensor([3.0, 1.0]), 0))
    # Entropy shares 0.1 and 0.9: the floor lifts 0.1 to 0.3, so the
    # inverse shares are 0.75 / 0.25 (0.9 / 0.1 without a floor).
    for floor, low_variance_share in ((0.3, 0.75), (0.0, 0.9)):
        coeffs = arl_module.asymmetric_coefficients(
            torch.tensor([1.0, 1.0]), torch.tensor([1.0, 9.0]), 2.0, floor)
        share = torch.tensor([low_variance_share, 1 - low_variance_share])
        torch.testing.assert_close(coeffs, F.softmax(share, 0))


def test_amplified_gradient_adds_weight_times_itself():
    feat = torch.randn(3, 4, requires_grad=True)
    out = arl_module.AmplifyGradient.apply(feat, torch.tensor(0.25))
    assert torch.equal(out, feat)
    upstream = torch.randn(3, 4)
    (out * upstream).sum().backward()
    torch.testing.assert_close(feat.grad, upstream * 1.25)


def test_prediction_sums_are_absolute_logits_and_entropies():
    logits = torch.log(torch.tensor([[1.0, 1.0], [3.0, 1.0]]))
    sums = arl_module.prediction_sums(logits)
    entropy = np.log(2) - (0.75 * np.log(0.75) + 0.25 * np.log(0.25))
    torch.testing.assert_close(
        sums, torch.tensor([np.log(3), entropy], dtype=torch.float32))


@pytest.mark.parametrize('number, warm_up', [(7, False), (6, True)])
def test_one_step_equals_the_authors_loop(number, warm_up, epoch):
    epoch(number)
    data = batch()
    model = _arl()
    expected, weights = _authors_step(model, data, warm_up=warm_up)
    after, log_vars = sgd_step(model, data, OptimWrapper)
    assert_same_parameters(after, expected)
    if warm_up:
        assert 'arl_coeff_audio' not in log_vars
        return
    coeffs = torch.tensor(
        [log_vars['arl_coeff_audio'], log_vars['arl_coeff_visual']])
    torch.testing.assert_close(coeffs, weights)
    assert abs(coeffs[0] - 0.5) > 0.05  # asymmetric indeed
    # Without amplification the encoders would move otherwise.
    plain, _ = _authors_step(model, data, warm_up=True)
    assert not torch.allclose(plain['encoders.audio.layers.0.weight'],
                              after['encoders.audio.layers.0.weight'])


@pytest.mark.parametrize('kwargs', [
    dict(gamma=0.0),
    dict(gamma=1.0),
    dict(temperature=0.5),
])
def test_gamma_and_temperature_change_the_step(kwargs, epoch):
    data = batch()
    default, _ = sgd_step(_arl(), data, OptimWrapper)
    after, _ = sgd_step(_arl(**kwargs), data, OptimWrapper)
    expected, _ = _authors_step(
        _arl(),
        data,
        gamma=kwargs.get('gamma', 4.0),
        T=kwargs.get('temperature', 8.0))
    assert_same_parameters(after, expected)
    assert not torch.allclose(default['encoders.audio.layers.0.weight'],
                              after['encoders.audio.layers.0.weight'])


def test_entropy_floor_bounds_the_inverse_variance_weights(epoch):
    data = batch()
    _, log_vars = sgd_step(_arl(), data, OptimWrapper)
    _, floored = sgd_step(_arl(entropy_floor=1.0), data, OptimWrapper)
    # A floor of 1 lifts both shares to 1: the inverse shares are then
    # equal, and the coefficients depend on the magnitudes alone.
    assert float(floored['arl_coeff_audio']) != pytest.approx(
        float(log_vars['arl_coeff_audio']))
    model = _arl()  # as before the step, in training mode
    inputs = model.data_preprocessor(batch(), True)['inputs']
    with torch.no_grad():
        torch.manual_seed(5)
        feats = model.extract_feat(inputs)
        logits = ARL.unimodal_logits(model, feats)
        magnitudes = torch.stack(
            [logits[m].abs().sum(1).mean() for m in ('audio', 'visual')])
    shares = magnitudes / magnitudes.sum()
    expected = F.softmax(shares.flip(0) * 0.5 * 8.0, 0)
    torch.testing.assert_close(
        torch.tensor([floored['arl_coeff_audio'],
                      floored['arl_coeff_visual']]), expected)


def test_arl_acts_from_begin_epoch(epoch):
    data = batch()
    for number, active in ((2, False), (3, True), (30, True)):
        epoch(number)
        _, log_vars = sgd_step(_arl(begin_epoch=3), data, OptimWrapper)
        assert ('arl_coeff_audio' in log_vars) == active
        # The warm-up weighs the uni-modal losses 1, then gamma.
        _, warm = sgd_step(_arl(begin_epoch=3, gamma=1.0), data, OptimWrapper)
        ratio = (
            float(log_vars['loss_unimodal_audio']) /
            float(warm['loss_unimodal_audio']))
        assert ratio == pytest.approx(4.0 if active else 1.0)


def test_sums_over_the_ranks_give_the_whole_batchs_coefficients(monkeypatch):
    """Rank 1 of 2 holds the odd samples: with the even ones' sums added
    by the reduction its coefficients are the whole batch's."""
    model = _arl().eval()
    inputs = model.data_preprocessor(batch(12), False)['inputs']
    with torch.no_grad():
        feats = model.extract_feat(inputs)
    whole = model.balancer.coefficients(model, feats)
    even = {m: f[0::2] for m, f in feats.items()}
    odd = {m: f[1::2] for m, f in feats.items()}
    alone = model.balancer.coefficients(model, odd)
    assert not torch.allclose(alone, whole)
    captured = {}

    def add_the_other_rank(tensor):
        captured['sums'] = tensor.clone()
        tensor += other_sums

    monkeypatch.setattr(arl_module, 'all_reduce', add_the_other_rank)
    other_sums = torch.zeros(5)
    model.balancer.coefficients(model, even)
    other_sums = captured['sums']
    torch.testing.assert_close(model.balancer.coefficients(model, odd), whole)


def test_prediction_is_joint_trainings():
    assert_predicts_as_joint_training(_arl())


def test_models_it_cannot_apply_to_are_refused_at_build():
    with pytest.raises(
            ValueError, match='ARL reads uni-modal logits.*SumFusion'):
        build(
            fusion=dict(type='SumFusion', out_channels=8),
            balancer=dict(type='ARL'))
    with pytest.raises(ValueError, match='ARL: gamma=-1 must not be'):
        ARL(gamma=-1)
    with pytest.raises(ValueError, match=r'ARL: entropy_floor=1.5 must be'):
        ARL(entropy_floor=1.5)


def test_config_fragment_holds_the_documented_values():
    """(test_all_configs holds arl_avdigits.py equal to jt_avdigits.py plus
    this fragment.)"""
    fragment = Config.fromfile(osp.join(REPO, 'configs/_base_/methods/arl.py'))
    assert fragment.model.balancer == dict(
        type='ARL',
        gamma=4.0,
        temperature=8.0,
        entropy_floor=0.3,
        begin_epoch=3)


@pytest.mark.slow
def test_ranks_stay_identical_and_equal_one_process_under_ddp(
        avdigits_root, tmp_path):
    """configs/arl_avdigits.py under tools/train.py with 2 processes, ARL
    from the first epoch: the coefficients come from the sums of both
    ranks, so both ranks end identical and equal one process that sees each
    step's 10 samples at once (each rank's own half would amplify its
    gradients otherwise)."""
    log = two_ranks_equal_one_process(
        osp.join(REPO, 'configs/arl_avdigits.py'), tmp_path, lambda size: [
            *whole_batch_options(avdigits_root, size),
            'model.balancer.begin_epoch=1', 'model.balancer.temperature=50.0'
        ])
    assert 'arl_coeff_audio' in log
