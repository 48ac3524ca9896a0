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


def test_epoch_seed_differs_per_epoch_and_base_seed():
    from mmdr.utils import epoch_seed
    assert epoch_seed(0, 3) == 3
    assert epoch_seed(2, 3) == 2 * 100003 + 3
    seeds = {epoch_seed(s, e) for s in range(3) for e in range(1, 200)}
    assert len(seeds) == 3 * 199


def test_seed_epoch_loader_sets_the_sampler_and_generator():
    from mmengine.dataset import DefaultSampler

    from mmdr.utils import epoch_seed, seed_epoch_loader
    data = list(range(10))
    loader = torch.utils.data.DataLoader(
        data,
        sampler=DefaultSampler(data, shuffle=True, seed=0),
        generator=torch.Generator())
    seed_epoch_loader(loader, seed=4, epoch=7)
    assert loader.sampler.epoch == 7
    assert loader.generator.initial_seed() == epoch_seed(4, 7)
    # The same seed and epoch: the same order; another epoch: another one.
    first = [int(x) for x in loader]
    seed_epoch_loader(loader, seed=4, epoch=7)
    assert [int(x) for x in loader] == first
    seed_epoch_loader(loader, seed=4, epoch=8)
    assert [int(x) for x in loader] != first
    # A plain iterable of batches is read as it is.
    batches = [1, 2]
    seed_epoch_loader(batches, seed=4, epoch=7)
    assert batches == [1, 2]
    # Nothing is drawn from the training stream.
    state = torch.get_rng_state()
    seed_epoch_loader(loader, seed=1, epoch=1)
    assert torch.equal(torch.get_rng_state(), state)
