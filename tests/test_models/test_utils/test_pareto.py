"""MMPareto's pure math: the 2-vector min-norm solver, the weights of an
encoder's two gradients and the per-tensor rescaling, against values
computed by hand."""
import math

import pytest
import torch

from mmdr.models.utils import (ParetoWeights, min_norm_2, mmpareto_weights,
                               pareto_direction, rescale_to_total)


def _t(*values):
    return torch.tensor(values, dtype=torch.float32)


def test_min_norm_2_is_the_closed_form_inside():
    # x1 = (1, 0), x2 = (-1, 1): c = <x2 - x1, x2> / ||x1 - x2||^2 = 3 / 5,
    # the point (0.2, 0.4), squared norm 0.2.
    c, cost = min_norm_2(1.0, -1.0, 2.0)
    assert c == pytest.approx(0.6)
    assert cost == pytest.approx(0.2)
    # Orthogonal x1 = (1, 0), x2 = (0, 2): c = 4 / 5, point (0.8, 0.4).
    c, cost = min_norm_2(1.0, 0.0, 4.0)
    assert c == pytest.approx(0.8)
    assert cost == pytest.approx(0.8)


def test_min_norm_2_clips_as_the_authors_solver():
    # <x1, x2> >= ||x1||^2: x1 = (1, 0), x2 = (2, 0) -> x1, weight 0.999.
    assert min_norm_2(1.0, 2.0, 4.0) == (0.999, 1.0)
    # <x1, x2> >= ||x2||^2: x1 = (2, 0), x2 = (1, 0) -> weight 0.001.
    assert min_norm_2(4.0, 2.0, 1.0) == (0.001, 1.0)
    # Two zero vectors: the first test wins.
    assert min_norm_2(0.0, 0.0, 0.0) == (0.999, 0.0)


@pytest.mark.parametrize('seed', range(5))
def test_min_norm_2_minimises_over_the_segment(seed):
    gen = torch.Generator().manual_seed(seed)
    x1, x2 = torch.randn(2, 6, generator=gen, dtype=torch.float64)
    # Conflicting vectors (where MMPareto asks the solver): the minimum
    # lies inside the segment, where no clipping applies.
    x2 = -x2 if x1 @ x2 > 0 else x2
    c, cost = min_norm_2(float(x1 @ x1), float(x1 @ x2), float(x2 @ x2))
    grid = torch.linspace(0, 1, 2001, dtype=torch.float64)
    norms = ((grid[:, None] * x1 + (1 - grid[:, None]) * x2)**2).sum(1)
    best = norms.min().item()
    assert cost == pytest.approx(float(((c * x1 + (1 - c) * x2)**2).sum()))
    # The exact minimum, at most the grid's (which misses it by O(h^2)).
    assert best - 1e-5 <= cost <= best + 1e-12


def test_agreeing_gradients_weigh_one_half_each():
    # Two tensors per gradient: concatenated g_mm = (3, 0), g_uni = (1, 1),
    # cosine 3 / (3 * sqrt 2).
    g_mm = [_t(3.0), _t(0.0).view(1, 1)]
    g_uni = [_t(1.0), _t(1.0).view(1, 1)]
    weights = mmpareto_weights(g_mm, g_uni)
    assert weights == ParetoWeights(0.5, 0.5, pytest.approx(2**-0.5), False)
    # Equal weights give the summed-loss gradient back.
    for gm, gu in zip(g_mm, g_uni):
        assert torch.equal(pareto_direction(gm, gu, weights), gm + gu)


def test_conflicting_gradients_take_the_min_norm_weights():
    # Concatenated g_mm = (1, 0), g_uni = (-1, 1): cosine -1 / sqrt 2,
    # weights (0.6, 0.4); direction 2 * (0.6 g_mm + 0.4 g_uni) = (0.4, 0.8).
    g_mm = [_t(1.0), _t(0.0).view(1, 1)]
    g_uni = [_t(-1.0), _t(1.0).view(1, 1)]
    weights = mmpareto_weights(g_mm, g_uni)
    assert weights.conflict
    assert weights.cos == pytest.approx(-2**-0.5)
    assert (weights.mm, weights.uni) == pytest.approx((0.6, 0.4))
    d = [pareto_direction(gm, gu, weights) for gm, gu in zip(g_mm, g_uni)]
    torch.testing.assert_close(d[0], _t(0.4))
    torch.testing.assert_close(d[1], _t(0.8).view(1, 1))
    # The direction descends both losses alike: <d, g_mm> = <d, g_uni> > 0.
    assert 0.4 * 1 + 0.8 * 0 == pytest.approx(0.4 * -1 + 0.8 * 1)
    # Summed-loss gradients (0,) and (1,): the first tensor keeps its norm
    # (diff 0 < 1), the second is stretched to norm 1 (diff 1.25); gamma 1.5.
    totals = [gm + gu for gm, gu in zip(g_mm, g_uni)]
    torch.testing.assert_close(rescale_to_total(d[0], totals[0], 1.5), _t(0.6))
    torch.testing.assert_close(
        rescale_to_total(d[1], totals[1], 1.5),
        _t(1.5).view(1, 1))


def test_orthogonal_or_zero_gradients_go_to_the_solver():
    # Cosine 0 is not > 0: g_mm = (1, 0), g_uni = (0, 2) -> (0.8, 0.2).
    weights = mmpareto_weights([_t(1.0, 0.0)], [_t(0.0, 2.0)])
    assert weights.conflict and weights.cos == 0.0
    assert (weights.mm, weights.uni) == pytest.approx((0.8, 0.2))
    # A zero fused gradient: the solver's first clip.
    weights = mmpareto_weights([_t(0.0, 0.0)], [_t(0.0, 2.0)])
    assert (weights.mm, weights.uni) == pytest.approx((0.999, 0.001))


def test_rescale_keeps_at_least_the_summed_norm():
    d = _t(3.0, 4.0)  # norm 5
    # Shorter than the summed gradient (norm 10): stretched to it.
    torch.testing.assert_close(
        rescale_to_total(d, _t(0.0, 10.0), 1.5), _t(9.0, 12.0))
    # Longer (norm 1): only gamma.
    torch.testing.assert_close(
        rescale_to_total(d, _t(1.0, 0.0), 1.5), _t(4.5, 6.0))
    # Equal norms: diff 1 is not > 1.
    torch.testing.assert_close(
        rescale_to_total(d, _t(5.0, 0.0), 2.0), _t(6.0, 8.0))
    # A zero direction stays zero (the authors' code would write NaN).
    out = rescale_to_total(_t(0.0, 0.0), _t(1.0, 0.0), 1.5)
    assert torch.equal(out, _t(0.0, 0.0))
    assert not math.isnan(out.sum().item())


def test_mismatched_shapes_are_named():
    with pytest.raises(ValueError, match=r'shapes \(2,\) and \(3,\) differ'):
        mmpareto_weights([_t(1.0, 2.0)], [_t(1.0, 2.0, 3.0)])
    with pytest.raises(ValueError, match='1 tensors against 2'):
        mmpareto_weights([_t(1.0)], [_t(1.0), _t(2.0)])
    with pytest.raises(ValueError, match=r'direction \(2,\) and gradient'):
        rescale_to_total(_t(1.0, 2.0), _t(1.0), 1.5)
