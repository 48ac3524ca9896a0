"""OGM-GE: the coefficients, the modulated gradients after one step through
BalancedOptimWrapper against a reference computed here as the authors' code
does, the errors, and identical replicas under DDP (2 processes)."""
import copy
import math
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from balancer_models import THREE_ENCODERS, batch, build
from balancer_test_hooks import parameter_dump_config
from conftest import REPO, data_root_cfg_options
from mmengine.optim import OptimWrapper
from runs import train_tool

from mmdr.engine.optimizers import BalancedOptimWrapper
from mmdr.models.balancers import modulation_coefficients
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


def test_more_than_two_modalities_is_refused_at_build():
    with pytest.raises(
            ValueError,
            match='OGMGE is defined for at most 2 '
            r"modalities.*\['audio', 'visual', 'text'\]"):
        _ogm_with(encoders=THREE_ENCODERS)


def test_a_fusion_without_head_slices_is_refused_at_build():
    with pytest.raises(
            ValueError, match='OGMGE reads uni-modal logits.*'
            'SumFusion'):
        _ogm_with(fusion=dict(type='SumFusion', out_channels=8))


def _ogm_with(**overrides):
    return build(balancer=dict(type='OGMGE', alpha=0.5), **overrides)


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
