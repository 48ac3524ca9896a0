"""Exact Shapley values against hand computations, and their properties."""
import numpy as np
import pytest

from mmdr.analysis.shapley import (coalitions, shapley_values,
                                   summarize_sample_values)


def _game(players, value):
    return {c: value(c) for c in coalitions(players)}


def test_coalitions_are_every_subset_by_size():
    assert coalitions(['a', 'b', 'c']) == [
        frozenset(),
        frozenset('a'),
        frozenset('b'),
        frozenset('c'),
        frozenset('ab'),
        frozenset('ac'),
        frozenset('bc'),
        frozenset('abc')
    ]
    with pytest.raises(ValueError, match='players must be distinct'):
        coalitions(['a', 'a'])


def test_two_players_by_hand():
    values = {
        frozenset(): 0.1,
        frozenset('a'): 0.5,
        frozenset('b'): 0.3,
        frozenset('ab'): 0.9
    }
    # phi_a = 1/2 (v(a) - v()) + 1/2 (v(ab) - v(b)) = (0.4 + 0.6) / 2.
    phi = shapley_values(['a', 'b'], values)
    assert list(phi) == ['a', 'b']
    assert phi['a'] == pytest.approx(0.5)
    assert phi['b'] == pytest.approx(0.3)
    assert phi['a'] + phi['b'] == pytest.approx(0.9 - 0.1)


def test_three_players_by_hand():
    worth = dict(a=1, b=2, c=3, ab=4, ac=5, bc=6, abc=9)
    values = _game('abc', lambda c: worth.get(''.join(sorted(c)), 0))
    # Weights 1/3 (no other player), 1/6 (one), 1/3 (both): e.g. phi_a =
    # 1/3 * 1 + 1/6 * (4 - 2) + 1/6 * (5 - 3) + 1/3 * (9 - 6) = 2.
    phi = shapley_values(['a', 'b', 'c'], values)
    assert phi == pytest.approx(dict(a=2, b=3, c=4))


@pytest.mark.parametrize('n', [1, 2, 3, 4, 5])
def test_efficiency_and_linearity_for_any_number_of_players(n):
    players = [f'm{i}' for i in range(n)]
    rng = np.random.default_rng(n)
    # A per-sample game: 7 samples, random values per coalition.
    per_sample = {c: rng.random(7) for c in coalitions(players)}
    phi = shapley_values(players, per_sample)
    total = sum(phi.values())
    np.testing.assert_allclose(
        total, per_sample[frozenset(players)] - per_sample[frozenset()])
    # The values of the averaged game are the averaged values.
    mean_game = {c: float(v.mean()) for c, v in per_sample.items()}
    mean_phi = shapley_values(players, mean_game)
    for p in players:
        assert mean_phi[p] == pytest.approx(phi[p].mean())


def test_a_player_that_adds_nothing_gets_nothing():
    # c adds nothing to any coalition; a and b are symmetric.
    values = _game('abc', lambda c: float(len(c & {'a', 'b'})**2))
    phi = shapley_values(['a', 'b', 'c'], values)
    assert phi['c'] == 0
    assert phi['a'] == pytest.approx(phi['b']) == pytest.approx(2.0)


def test_every_coalition_is_needed():
    values = _game('ab', lambda c: 1.)
    del values[frozenset('b')]
    with pytest.raises(KeyError, match=r"lack the coalitions \[\['b'\]\]"):
        shapley_values(['a', 'b'], values)


def test_sample_summary():
    summary, tie_share = summarize_sample_values(
        dict(
            a=np.array([1., 0., .5, 0.]),
            b=np.array([0., 1., .5, 0.]),
            c=np.array([0., 0., 0., 0.])))
    # Sample 0: a most; 1: b most; 2: a and b tie; 3: all tie.
    assert summary == dict(
        a=dict(mean=0.375, most_share=0.25),
        b=dict(mean=0.375, most_share=0.25),
        c=dict(mean=0., most_share=0.))
    assert tie_share == 0.5
