"""Exact Shapley values of players (modalities) in a cooperative game, and
the summary of per-sample values (pure Python and NumPy).

The Shapley value of player ``i`` among the players ``N`` (``n`` of them)
under a value function ``v`` of coalitions is

    phi_i = sum over S in N \\ {i} of |S|! (n - |S| - 1)! / n!
            * (v(S + {i}) - v(S)),

every coalition ``S`` of the other players counted (Shapley, 1953; the
formula of BalanceBenchmark's ``balancemm/evaluation/modalitys.py``). The
values add up to ``v(N) - v(empty)`` (efficiency), and are linear in ``v``:
the values of a per-sample game (an array per coalition) averaged over the
samples are the values of the averaged game.
"""
from itertools import combinations
from math import factorial
from typing import Dict, FrozenSet, List, Mapping, Sequence, Tuple, Union

import numpy as np

Value = Union[float, np.ndarray]


def coalitions(players: Sequence[str]) -> List[FrozenSet[str]]:
    """Every coalition of the players, the empty one first, by size.

    Args:
        players (Sequence[str]): Distinct player names.

    Returns:
        list[frozenset[str]]: The ``2 ** len(players)`` coalitions.
    """
    if len(set(players)) != len(players):
        raise ValueError(f'players must be distinct, got {list(players)}')
    return [
        frozenset(coalition) for size in range(len(players) + 1)
        for coalition in combinations(players, size)
    ]


def shapley_values(players: Sequence[str],
                   values: Mapping[FrozenSet[str], Value]) -> Dict[str, Value]:
    """The exact Shapley value of every player.

    Args:
        players (Sequence[str]): Distinct player names.
        values (Mapping[frozenset[str], float or np.ndarray]): The value of
            every coalition (:func:`coalitions`), a number or an array of
            per-sample values (all of one shape).

    Returns:
        dict[str, float or np.ndarray]: Player to its Shapley value, in the
        order of ``players`` (arrays: per sample).
    """
    missing = [sorted(c) for c in coalitions(players) if c not in values]
    if missing:
        raise KeyError(f'the values lack the coalitions {missing}')
    n = len(players)
    result = {}
    for player in players:
        others = [p for p in players if p != player]
        total = 0.
        for coalition in coalitions(others):
            size = len(coalition)
            weight = factorial(size) * factorial(n - size - 1) / factorial(n)
            total = total + weight * (
                values[coalition | {player}] - values[coalition])
        result[player] = total
    return result


def summarize_sample_values(
        sample_values: Mapping[str,
                               np.ndarray]) -> Tuple[Dict[str, dict], float]:
    """Mean per-sample Shapley value of each player, and how often it
    contributes most.

    Args:
        sample_values (Mapping[str, np.ndarray]): Player to ``(N, )``
            per-sample Shapley values.

    Returns:
        tuple: Player to ``mean`` (its mean value) and ``most_share`` (the
        share of samples where its value is larger than every other
        player's); and the share of samples where no single player's value
        is the largest (e.g. all zero: every coalition, the empty one
        included, gets the sample right).
    """
    players = list(sample_values)
    stacked = np.stack([np.asarray(sample_values[p]) for p in players])
    largest = stacked.max(axis=0)
    at_largest = np.isclose(stacked, largest[None], rtol=0, atol=1e-12)
    single = at_largest.sum(axis=0) == 1
    summary = {
        p:
        dict(
            mean=float(stacked[i].mean()),
            most_share=float((single & at_largest[i]).mean()))
        for i, p in enumerate(players)
    }
    return summary, float((~single).mean())
