import pytest
import torch
import torch.nn as nn

from mmdr.models.fusions import (BaseFusion, ConcatFusion, FiLMFusion,
                                 GatedFusion, SumFusion)
from mmdr.registry import MODELS
from mmdr.utils import register_all_modules

register_all_modules()

IN_DIMS = dict(audio=3, visual=5)
IN_DIMS3 = dict(audio=3, visual=5, tab=2)


def _feats(in_dims, n=4, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return {m: torch.randn(n, d, generator=gen) for m, d in in_dims.items()}


# ------------------------------------------------------------- ConcatFusion
def test_concat_exact_values_in_config_order():
    fusion = MODELS.build(dict(type='ConcatFusion', in_dims=IN_DIMS))
    assert isinstance(fusion, ConcatFusion)
    assert fusion.modalities == ('audio', 'visual')
    assert fusion.out_dim == 8
    feats = {
        # Given in the other order: the config order wins.
        'visual': torch.tensor([[10., 11., 12., 13., 14.]]),
        'audio': torch.tensor([[1., 2., 3.]]),
    }
    out = fusion(feats)
    assert torch.equal(out,
                       torch.tensor([[1., 2., 3., 10., 11., 12., 13., 14.]]))
    assert list(fusion.parameters()) == []


def test_concat_three_modalities_and_extra_keys_ignored():
    fusion = ConcatFusion(in_dims=IN_DIMS3)
    assert fusion.out_dim == 10
    feats = _feats(IN_DIMS3)
    feats['unused'] = torch.randn(4, 9)
    out = fusion(feats)
    assert out.shape == (4, 10)
    assert torch.equal(out[:, :3], feats['audio'])
    assert torch.equal(out[:, 3:8], feats['visual'])
    assert torch.equal(out[:, 8:], feats['tab'])


# ---------------------------------------------------------------- SumFusion
@pytest.mark.parametrize('in_dims', [IN_DIMS, IN_DIMS3])
def test_sum_equals_sum_of_projections(in_dims):
    torch.manual_seed(0)
    fusion = MODELS.build(
        dict(type='SumFusion', in_dims=in_dims, out_channels=6))
    assert isinstance(fusion, SumFusion)
    assert fusion.out_dim == 6
    assert set(fusion.projections) == set(in_dims)
    for m, d in in_dims.items():
        proj = fusion.projections[m]
        assert (proj.in_features, proj.out_features) == (d, 6)
    feats = _feats(in_dims)
    expected = sum(fusion.projections[m].weight @ feats[m].T +
                   fusion.projections[m].bias[:, None] for m in in_dims).T
    out = fusion(feats)
    assert out.shape == (4, 6)
    torch.testing.assert_close(out, expected)


def test_sum_default_width():
    assert SumFusion(in_dims=IN_DIMS).out_dim == 512


# --------------------------------------------------------------- FiLMFusion
def test_film_two_modalities_matches_manual():
    torch.manual_seed(0)
    fusion = MODELS.build(
        dict(
            type='FiLMFusion',
            in_dims=IN_DIMS,
            condition='visual',
            out_channels=4))
    assert isinstance(fusion, FiLMFusion)
    assert fusion.condition == 'visual'
    assert fusion.out_dim == 4
    assert (fusion.film.in_features, fusion.film.out_features) == (5, 8)
    assert set(fusion.projections) == {'audio'}
    feats = _feats(IN_DIMS)
    film = feats['visual'] @ fusion.film.weight.T + fusion.film.bias
    gamma, beta = film[:, :4], film[:, 4:]
    proj = fusion.projections['audio']
    h = feats['audio'] @ proj.weight.T + proj.bias
    torch.testing.assert_close(fusion(feats), gamma * h + beta)


def test_film_default_condition_is_first_modality():
    fusion = FiLMFusion(in_dims=IN_DIMS, out_channels=4)
    assert fusion.condition == 'audio'
    assert fusion.film.in_features == 3
    assert set(fusion.projections) == {'visual'}
    assert FiLMFusion(in_dims=IN_DIMS).out_dim == 512


def test_film_three_modalities_sums_other_projections():
    torch.manual_seed(1)
    fusion = FiLMFusion(in_dims=IN_DIMS3, condition='tab', out_channels=3)
    assert set(fusion.projections) == {'audio', 'visual'}
    feats = _feats(IN_DIMS3)
    gamma, beta = fusion.film(feats['tab']).split(3, dim=1)
    h = (
        fusion.projections['audio'](feats['audio']) +
        fusion.projections['visual'](feats['visual']))
    out = fusion(feats)
    assert out.shape == (4, 3)
    torch.testing.assert_close(out, gamma * h + beta)
    # The conditioning modality acts only through gamma and beta.
    feats2 = dict(feats, audio=torch.zeros(4, 3), visual=torch.zeros(4, 5))
    bias_sum = (
        fusion.projections['audio'].bias + fusion.projections['visual'].bias)
    torch.testing.assert_close(fusion(feats2), gamma * bias_sum + beta)


def test_film_unknown_condition_is_named():
    with pytest.raises(ValueError) as err:
        FiLMFusion(in_dims=IN_DIMS, condition='depth')
    msg = str(err.value)
    assert "condition='depth'" in msg
    assert "['audio', 'visual']" in msg


def test_film_needs_two_modalities():
    with pytest.raises(ValueError, match='at least two modalities'):
        FiLMFusion(in_dims=dict(audio=3))


# -------------------------------------------------------------- GatedFusion
def test_gated_two_modalities_matches_manual():
    torch.manual_seed(0)
    fusion = MODELS.build(
        dict(
            type='GatedFusion', in_dims=IN_DIMS, gate='visual',
            out_channels=4))
    assert isinstance(fusion, GatedFusion)
    assert fusion.gate == 'visual'
    assert fusion.out_dim == 4
    assert set(fusion.projections) == {'audio', 'visual'}
    feats = _feats(IN_DIMS)
    pv, pa = fusion.projections['visual'], fusion.projections['audio']
    gate = 1 / (1 + torch.exp(-(feats['visual'] @ pv.weight.T + pv.bias)))
    other = feats['audio'] @ pa.weight.T + pa.bias
    out = fusion(feats)
    torch.testing.assert_close(out, gate * other)
    # |out| <= |other| elementwise, since the gate is in (0, 1).
    assert (out.abs() <= other.abs() + 1e-6).all()


def test_gated_default_gate_and_three_modalities():
    torch.manual_seed(2)
    fusion = GatedFusion(in_dims=IN_DIMS3, out_channels=5)
    assert fusion.gate == 'audio'
    assert fusion.out_dim == 5
    feats = _feats(IN_DIMS3)
    p = fusion.projections
    expected = torch.sigmoid(p['audio'](feats['audio'])) * (
        p['visual'](feats['visual']) + p['tab'](feats['tab']))
    torch.testing.assert_close(fusion(feats), expected)


def test_gated_unknown_gate_and_single_modality():
    with pytest.raises(ValueError, match=r"gate='depth' is not one of"):
        GatedFusion(in_dims=IN_DIMS, gate='depth')
    with pytest.raises(ValueError, match='at least two modalities'):
        GatedFusion(in_dims=dict(visual=5))


# ------------------------------------------------------------------ common
@pytest.mark.parametrize(
    'cfg', [
        dict(type='ConcatFusion'),
        dict(type='SumFusion', out_channels=4),
        dict(type='FiLMFusion', out_channels=4),
        dict(type='GatedFusion', out_channels=4),
    ],
    ids=['concat', 'sum', 'film', 'gated'])
def test_missing_modality_in_forward_is_named(cfg):
    fusion = MODELS.build(dict(cfg, in_dims=IN_DIMS3))
    assert isinstance(fusion, BaseFusion)
    feats = _feats(IN_DIMS3)
    del feats['visual']
    with pytest.raises(KeyError) as err:
        fusion(feats)
    msg = str(err.value)
    assert "missing ['visual']" in msg
    assert type(fusion).__name__ in msg


@pytest.mark.parametrize(
    'fusion_type', ['ConcatFusion', 'SumFusion', 'FiLMFusion', 'GatedFusion'])
def test_empty_in_dims_is_an_error(fusion_type):
    with pytest.raises(ValueError, match='needs at least one modality'):
        MODELS.build(dict(type=fusion_type, in_dims={}))


@pytest.mark.parametrize(
    'cfg,out_dim', [
        (dict(type='ConcatFusion'), 10),
        (dict(type='SumFusion', out_channels=7), 7),
        (dict(type='FiLMFusion', condition='visual', out_channels=6), 6),
        (dict(type='GatedFusion', gate='tab', out_channels=9), 9),
    ],
    ids=['concat', 'sum', 'film', 'gated'])
def test_three_modalities_shapes_and_gradients(cfg, out_dim):
    torch.manual_seed(3)
    fusion = MODELS.build(dict(cfg, in_dims=IN_DIMS3))
    assert fusion.out_dim == out_dim
    feats = {m: f.requires_grad_() for m, f in _feats(IN_DIMS3, n=3).items()}
    out = fusion(feats)
    assert out.shape == (3, out_dim)
    out.square().sum().backward()
    # Every modality influences the fused feature.
    for m, f in feats.items():
        assert f.grad is not None and f.grad.abs().sum() > 0, m
    for p in fusion.parameters():
        assert isinstance(p, nn.Parameter) and p.grad is not None


@pytest.mark.parametrize('fusion_type,expected', [
    ('SumFusion', ['projections.audio', 'projections.visual']),
    ('GatedFusion', ['projections.audio', 'projections.visual']),
    ('FiLMFusion', ['film', 'projections.visual']),
])
def test_projection_keys_and_init_cfg(fusion_type, expected):
    """mmengine's ModuleDict keeps torch's state dict keys, and an init_cfg
    on the fusion reaches the projections."""
    fusion = MODELS.build(
        dict(
            type=fusion_type,
            in_dims=IN_DIMS,
            out_channels=4,
            init_cfg=dict(type='Constant', layer='Linear', val=0.5, bias=0)))
    assert list(fusion.state_dict()) == [
        f'{prefix}.{p}' for prefix in expected for p in ('weight', 'bias')
    ]
    fusion.init_weights()
    for name, param in fusion.named_parameters():
        assert (param == (0.5 if name.endswith('weight') else 0)).all(), name
