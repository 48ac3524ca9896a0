"""Read, restore and fence the random generators of a process.

A training process draws from four generators: Python's ``random``, NumPy's
global ``RandomState``, torch's CPU generator and, where CUDA is used, one
generator per GPU. mmengine seeds them when a run starts (also on resume) but
does not save their states in checkpoints; these helpers do what is needed to
continue a run exactly where it stopped.
"""
import random
from contextlib import contextmanager
from typing import Iterator, Optional

import numpy as np
import torch


def get_random_state() -> dict:
    """The states of every random generator of this process.

    Returns:
        dict: ``python``, ``numpy``, ``torch`` and ``cuda`` (a list of one
        state per visible GPU, or None when CUDA is not initialised; reading
        it must not start CUDA in a process that does not use it).
    """
    cuda = None
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        cuda = torch.cuda.get_rng_state_all()
    return dict(
        python=random.getstate(),
        numpy=np.random.get_state(),
        torch=torch.get_rng_state(),
        cuda=cuda)


def set_random_state(state: dict) -> None:
    """Restore the states that :func:`get_random_state` returned.

    Args:
        state (dict): A state from :func:`get_random_state`, possibly after a
            round trip through a checkpoint.
    """
    random.setstate(_as_python_state(state['python']))
    np.random.set_state(state['numpy'])
    torch.set_rng_state(state['torch'].cpu())
    cuda: Optional[list] = state.get('cuda')
    if cuda is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in cuda])


def _as_python_state(state) -> tuple:
    """``random.setstate`` needs tuples; a checkpoint may hold lists."""
    version, internal, gauss = state
    return version, tuple(internal), gauss


@contextmanager
def preserved_random_state() -> Iterator[None]:
    """Run a block without moving any random generator of this process.

    Whatever the block draws (a data loader's base seed, a random transform),
    the generators are put back as they were when it started, so that the
    training stream does not depend on whether, or how often, the block
    ran (validation, a diagnosis).

    Yields:
        None
    """
    state = get_random_state()
    try:
        yield
    finally:
        set_random_state(state)


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of a pass that runs once per epoch (D&R's diagnosis, PMR's
    prototypes): a different one every epoch, the same in every run.

    Args:
        seed (int): The base seed.
        epoch (int): The epoch of the pass.

    Returns:
        int: ``seed * 100003 + epoch`` (a prime factor keeps the seeds of
        two base seeds apart for any realistic number of epochs).
    """
    return seed * 100003 + epoch


def seed_epoch_loader(loader, seed: int, epoch: int) -> None:
    """Seed a data loader of its own for one epoch's pass.

    The sampler is set to ``epoch`` (a new order each epoch where it
    shuffles) and the loader's own generator, from which it draws its
    workers' base seed, to :func:`epoch_seed`; nothing is drawn from the
    training stream. Plain iterables (e.g. a list of batches) are left as
    they are.

    Args:
        loader: A DataLoader, or any iterable of batches.
        seed (int): The base seed.
        epoch (int): The epoch of the pass.
    """
    sampler = getattr(loader, 'sampler', None)
    if hasattr(sampler, 'set_epoch'):
        sampler.set_epoch(epoch)
    generator = getattr(loader, 'generator', None)
    if generator is not None:
        generator.manual_seed(epoch_seed(seed, epoch))
