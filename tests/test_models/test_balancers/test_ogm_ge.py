"""OGM-GE: the coefficients, the modulated gradients after one step through
BalancedOptimWrapper against a reference computed here as the authors' code
does, the documented effect of every argument (alpha, the epoch window,
modulated_params, GE's noise stream), the errors, and identical replicas
under DDP (2 processes)."""
import copy
import math
import os.path as osp

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from balancer_models import WIDTHS, batch, build
from balancer_test_hooks import parameter_dump_config
from conftest import REPO, data_root_cfg_options
from mmengine.optim import OptimWrapper
from runs import train_tool

from mmdr.engine.optimizers import BalancedOptimWrapper
from mmdr.models.balancers import OGMGE, modulation_coefficients
from mmdr.models.encoders import BaseEncoder
from mmdr.registry import MODELS
from mmdr.utils import register_all_modules

register_all_modules()


def test_coefficients_follow_the_authors_code():
    # visual (index 1) dominates: 1 - tanh(alpha * ratio), audio keeps 1.
    coeffs = modulation_coefficients(torch.tensor([3.0, 6.0]), 0.5)
    assert coeffs.tolist() == pytest.approx([1.0, 1 - math.tanh(1.0)])
    coeffs = modulation_coefficients(torch.tensor([6.0, 2.0]), 0.1)
    assert coeffs.tolist() == pytest.approx([1 - math.tanh(0.3), 1.0])
    # A tie modulates the first modality, as `ratio_v > 1` fails there.
    coeffs = modulation_coefficients(torch.tensor([2.0, 2.0]), 0.8)
    assert coeffs.tolist() == pytest.approx([1 - math.tanh(0.8), 1.0])


def _ogm(**kwargs):
    return build(
        balancer=dict(type='OGMGE', alpha=0.6, end_epoch=99, **kwargs))


def _step(model, data):
    """One step of mmengine's train_step with SGD(lr=1): returns the
    applied update (old - new parameters) per name."""
    wrapper = BalancedOptimWrapper(
        optimizer=torch.optim.SGD(model.parameters(), lr=1.0))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    torch.manual_seed(5)  # the same dropout masks as the reference
    log_vars = model.train_step(copy.deepcopy(data), wrapper)
    return {
        n: before[n] - p.detach()
        for n, p in model.named_parameters()
    }, log_vars


def _reference(model, data, alpha, enhancement):
    """The authors' train_epoch for one batch, on a copy of the model."""
    model = copy.deepcopy(model)
    model.balancer = None
    data = model.data_preprocessor(copy.deepcopy(data), True)
    torch.manual_seed(5)
    feats = model.extract_feat(data['inputs'])
    out = model.cls_head(model.fusion(feats))
    labels = torch.stack([s.gt_labels.item for s in data['data_samples']])
    labels = labels.view(-1)
    F.cross_entropy(out, labels).backward()
    weight, bias = model.cls_head.fc_cls.weight, model.cls_head.fc_cls.bias
    # Slices of the concatenation head, half the bias each.
    out_a = feats['audio'] @ weight[:, :7].t() + bias / 2
    out_v = feats['visual'] @ weight[:, 7:].t() + bias / 2
    score_a = F.softmax(out_a, 1)[torch.arange(len(labels)), labels].sum()
    score_v = F.softmax(out_v, 1)[torch.arange(len(labels)), labels].sum()
    ratio_v = (score_v / score_a).item()
    if ratio_v > 1:
        coeff = dict(audio=1.0, visual=1 - math.tanh(alpha * ratio_v))
    else:
        coeff = dict(audio=1 - math.tanh(alpha / ratio_v), visual=1.0)
    grads, stds = {}, {}
    for name, p in model.named_parameters():
        modality = name.split('.')[1] if name.startswith('encoders') else ''
        if modality and p.dim() >= 2:
            grads[name] = p.grad * coeff[modality]
            stds[name] = p.grad.std().item() + 1e-8
        else:
            grads[name] = p.grad.clone()
    return grads, stds, coeff


def test_one_step_scales_encoder_weights_only():
    model, data = _ogm(enhancement=False), batch()
    expected, _, coeff = _reference(model, data, 0.6, False)
    assert min(coeff.values()) < 0.9  # a real modulation
    update, log_vars = _step(model, data)
    for name, grad in expected.items():
        torch.testing.assert_close(update[name], grad, msg=name)
    assert log_vars['ogm_coeff_visual'] == pytest.approx(coeff['visual'])
    assert log_vars['ogm_coeff_audio'] == pytest.approx(coeff['audio'])


def test_generalisation_enhancement_adds_noise_of_the_gradient_std():
    model, data = _ogm(), batch()
    expected, stds, _ = _reference(model, data, 0.6, True)
    update, _ = _step(model, data)
    modulated = [n for n in stds]
    assert {n.split('.')[1] for n in modulated} == {'audio', 'visual'}
    for name, grad in expected.items():
        if name not in stds:
            torch.testing.assert_close(update[name], grad, msg=name)
            continue
        noise = update[name] - grad
        # Gaussian noise, std of the unscaled gradient (loosely: few
        # elements per tensor).
        assert 0.3 < noise.std().item() / stds[name] < 2.0, name
    # The same iteration draws the same noise (every rank, and a resumed
    # run); the next iteration other noise.
    again, _ = _step(_ogm(), data)
    for name in modulated:
        torch.testing.assert_close(again[name], update[name])


def test_outside_its_epochs_the_step_is_plain_joint_training():
    data = batch()
    plain, _ = _step(build(), data)
    late = build(balancer=dict(type='OGMGE', alpha=0.6, end_epoch=0))
    update, _ = _step(late, data)
    for name, grad in plain.items():
        torch.testing.assert_close(update[name], grad, msg=name)


def test_a_plain_optim_wrapper_is_refused_before_the_first_step():
    model = _ogm()
    wrapper = OptimWrapper(optimizer=torch.optim.SGD(model.parameters(), 1))
    with pytest.raises(RuntimeError, match="optim_wrapper.type='Balanced"):
        model.train_step(batch(), wrapper)


def test_a_fusion_without_head_slices_is_refused_at_build():
    with pytest.raises(
            ValueError, match='OGMGE reads uni-modal logits.*'
            'SumFusion'):
        _ogm_with(fusion=dict(type='SumFusion', out_channels=8))


def _ogm_with(**overrides):
    return build(balancer=dict(type='OGMGE', alpha=0.5), **overrides)


@MODELS.register_module()
class ConvVectorEncoder(BaseEncoder):
    """A 1-D convolution (a 3-D kernel) and a linear layer (a 2-D weight)
    on a feature vector: parameters of every group of ``modulated_params``.

    Args:
        in_channels (int): Width of the input vector.
    """

    def __init__(self, in_channels: int) -> None:
        super().__init__(feat_dim=4)
        self.conv = nn.Conv1d(1, 2, 3)
        self.fc = nn.Linear(2 * (in_channels - 2), 4)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.conv(x.float()[:, None])).flatten(1))


def _dominant(log_vars):
    """The modulated modality and its coefficient, from the logged ratio
    (visual score over audio score)."""
    modality = 'visual' if log_vars['ogm_ratio'] > 1 else 'audio'
    return modality, log_vars[f'ogm_coeff_{modality}']


def _assert_scaled(update, plain, modality, coeff, scaled):
    """The update is ``coeff`` times plain joint training's for the
    parameter names in ``scaled`` (all of ``modality``'s encoder), and
    plain joint training's for every other parameter."""
    assert scaled and all(
        n.startswith(f'encoders.{modality}.') for n in scaled)
    for name, grad in plain.items():
        factor = coeff if name in scaled else 1.0
        torch.testing.assert_close(update[name], factor * grad, msg=name)


def _ogm_window(model_overrides=None, **kwargs):
    """Plain OGM (no noise), so that the update shows the coefficients."""
    kwargs.setdefault('alpha', 0.6)
    kwargs.setdefault('end_epoch', 99)
    return build(
        balancer=dict(type='OGMGE', enhancement=False, **kwargs),
        **(model_overrides or {}))


@pytest.mark.parametrize('alpha', [0.0, 0.2, 0.9])
def test_alpha_sets_the_dominant_modalitys_coefficient(alpha, runtime_info):
    """1 - tanh(alpha * ratio) on the dominant encoder's weights; alpha 0
    leaves joint training."""
    runtime_info(epoch=1)
    data = batch()
    plain, _ = _step(build(), data)
    update, log_vars = _step(_ogm_window(alpha=alpha), data)
    modality, coeff = _dominant(log_vars)
    ratio = float(log_vars['ogm_ratio'])
    ratio = ratio if modality == 'visual' else 1 / ratio
    assert coeff == pytest.approx(1 - math.tanh(alpha * ratio))
    other = 'audio' if modality == 'visual' else 'visual'
    assert log_vars[f'ogm_coeff_{other}'] == 1.0
    if alpha == 0:
        assert coeff == 1.0
    weights = [
        n for n, p in plain.items()
        if n.startswith(f'encoders.{modality}.') and p.dim() >= 2
    ]
    _assert_scaled(update, plain, modality, coeff, weights)


def test_modulation_acts_from_begin_epoch_to_end_epoch_inclusive(runtime_info):
    data = batch()
    plain, _ = _step(build(), data)
    for epoch, modulated in ((1, False), (2, True), (3, True), (4, False)):
        runtime_info(epoch=epoch)
        update, log_vars = _step(_ogm_window(begin_epoch=2, end_epoch=3), data)
        modality, coeff = _dominant(log_vars)
        assert coeff < 0.9  # a real modulation, when it acts
        weights = [
            n for n, p in plain.items()
            if n.startswith(f'encoders.{modality}.') and p.dim() >= 2
        ]
        _assert_scaled(update, plain, modality, coeff if modulated else 1.0,
                       weights)
    runtime_info(epoch=51)  # the last epoch of the defaults (the code's 50)
    assert OGMGE(alpha=0.5).active()
    runtime_info(epoch=52)
    assert not OGMGE(alpha=0.5).active()
    runtime_info(epoch=1)
    assert OGMGE(alpha=0.5).active()


@pytest.mark.parametrize('modulated_params, scaled', [
    ('weights', ('conv.weight', 'fc.weight')),
    ('conv', ('conv.weight', )),
    ('all', ('conv.weight', 'conv.bias', 'fc.weight', 'fc.bias')),
])
def test_modulated_params_selects_the_scaled_tensors(modulated_params, scaled,
                                                     runtime_info):
    runtime_info(epoch=1)
    encoders = {
        m: dict(type='ConvVectorEncoder', in_channels=w)
        for m, w in WIDTHS.items()
    }
    data = batch()
    plain, _ = _step(build(encoders=encoders), data)
    update, log_vars = _step(
        _ogm_window(
            dict(encoders=encoders), modulated_params=modulated_params), data)
    modality, coeff = _dominant(log_vars)
    assert coeff < 0.9
    _assert_scaled(update, plain, modality, coeff,
                   [f'encoders.{modality}.{n}' for n in scaled])


def test_bad_arguments_are_refused_at_build():
    with pytest.raises(
            ValueError,
            match=r"OGMGE\(modulated_params='conv'\) finds no parameter to "
            "modulate in encoder 'audio'"):
        _ogm(modulated_params='conv')  # MLP encoders: no conv kernel
    with pytest.raises(
            ValueError,
            match="OGMGE: modulated_params='bias' is not one of "
            r"\('weights', 'conv', 'all'\)"):
        OGMGE(alpha=0.5, modulated_params='bias')
    with pytest.raises(ValueError, match='OGMGE: alpha=-0.1 must not be'):
        OGMGE(alpha=-0.1)


def test_noise_is_a_new_stream_per_iteration_and_run_seed(runtime_info):
    """GE's noise comes from the run's seed (the torch seed when the model
    is built) and the iteration: the same pair draws the same noise."""
    data = batch()

    def noise(seed, iteration):
        runtime_info(iteration=iteration)
        # build() seeds torch before building, as the Runner does.
        model = build(
            seed=seed, balancer=dict(type='OGMGE', alpha=0.6, end_epoch=99))
        model.load_state_dict(_ogm().state_dict())  # the same weights
        update, _ = _step(model, data)
        return update['encoders.audio.layers.2.weight']

    first = noise(seed=0, iteration=7)
    torch.testing.assert_close(noise(seed=0, iteration=7), first)
    assert not torch.allclose(noise(seed=0, iteration=8), first)
    assert not torch.allclose(noise(seed=1, iteration=7), first)


@pytest.mark.slow
def test_replicas_stay_identical_under_ddp(avdigits_root, tmp_path):
    """2 processes: the scores are summed over ranks and the noise is drawn
    alike, so both ranks end with the same parameters; without the sum
    the ranks' coefficients differ (each sees half the batch)."""
    config = parameter_dump_config(
        tmp_path, osp.join(REPO, 'configs/ogm-ge_avdigits.py'))
    work = tmp_path / 'work'
    result = train_tool(
        work,
        [*data_root_cfg_options(avdigits_root), 'train_cfg.max_epochs=1'],
        nproc=2,
        config=config)
    assert 'ogm_coeff_visual' in result.stdout + result.stderr
    ranks = [torch.load(work / f'rank{r}_parameters.pth') for r in (0, 1)]
    assert ranks[0].keys() == ranks[1].keys()
    for name, value in ranks[0].items():
        assert torch.equal(value, ranks[1][name]), name
