import random

import numpy as np
import torch

from mmdr.utils import (get_random_state, preserved_random_state,
                        set_random_state)


def _draw():
    return (random.random(), float(np.random.rand()), float(torch.rand(())))


def test_set_random_state_replays_every_generator():
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    state = get_random_state()
    first = [_draw() for _ in range(3)]
    set_random_state(state)
    assert [_draw() for _ in range(3)] == first


def test_state_survives_a_checkpoint_round_trip(tmp_path):
    import mmdr  # noqa: F401 - allow-lists numpy types for torch.load
    state = get_random_state()
    expected = [_draw() for _ in range(2)]
    torch.save(dict(random_state=state), tmp_path / 'ckpt.pth')
    # weights_only loading (torch >= 2.6's default) must accept it.
    loaded = torch.load(tmp_path / 'ckpt.pth')['random_state']
    _draw()
    set_random_state(loaded)
    assert [_draw() for _ in range(2)] == expected


def test_preserved_random_state_puts_generators_back():
    state = get_random_state()
    expected = _draw()
    set_random_state(state)
    with preserved_random_state():
        for _ in range(5):
            _draw()
    assert _draw() == expected
