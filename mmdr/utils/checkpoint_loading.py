"""Loading mmengine checkpoints under ``torch.load(weights_only=True)``.

torch >= 2.6 loads checkpoints with ``weights_only=True`` by default and
mmengine 0.10 calls ``torch.load`` without saying otherwise, so a checkpoint
holding anything but tensors and plain containers is refused. Instead of
turning the restriction off, this module allow-lists exactly the types that
mmengine checkpoints (and mmaction2 model-zoo checkpoints) contain.

One of them needs care: mmengine's ``HistoryBuffer`` pickles its class-level
dict of statistics functions, which pickle writes as
``getattr(HistoryBuffer, 'mean')``; allowing ``builtins.getattr`` would let a
crafted file reach any attribute of any allowed object. We register a reducer
that pickles a buffer as ``HistoryBuffer(log_history, count_history,
max_length)``: the statistics methods are registered on the class when
mmengine is imported, so nothing is lost, and ``getattr`` stays forbidden.
"""
import copyreg
from typing import Any, Callable, List, Tuple

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

try:  # numpy >= 2
    from numpy._core.multiarray import _reconstruct, scalar
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core.multiarray import _reconstruct, scalar

import codecs


def _reduce_history_buffer(
        buffer: HistoryBuffer) -> Tuple[Callable, Tuple[Any, ...]]:
    """Pickle a ``HistoryBuffer`` by its constructor arguments only.

    Args:
        buffer (HistoryBuffer): The buffer to pickle.

    Returns:
        tuple: The callable and arguments that rebuild the buffer.
    """
    return HistoryBuffer, (buffer._log_history, buffer._count_history,
                           buffer.max_length)


def checkpoint_safe_globals() -> List[Any]:
    """The globals that mmengine and mmaction2 checkpoints reference.

    Returns:
        list: Classes and functions to pass to
        ``torch.serialization.add_safe_globals``.
    """
    dtype_classes = {
        type(np.dtype(name))
        for name in ('bool', 'int8', 'int16', 'int32', 'int64', 'uint8',
                     'uint16', 'uint32', 'uint64', 'float16', 'float32',
                     'float64', 'complex64', 'complex128', 'str', 'bytes',
                     'object')
    }
    return [
        HistoryBuffer, _reconstruct, scalar, np.ndarray, np.dtype,
        codecs.encode, *sorted(dtype_classes, key=lambda c: c.__name__)
    ]


def allow_mmengine_checkpoints() -> None:
    """Make ``torch.load(weights_only=True)`` accept mmengine checkpoints.

    Safe to call more than once. Called when :mod:`mmdr` is imported, so that
    ``resume=True`` and ``init_cfg=dict(type='Pretrained', ...)`` work under
    torch >= 2.6 without ``weights_only=False``.
    """
    copyreg.pickle(HistoryBuffer, _reduce_history_buffer)
    torch.serialization.add_safe_globals(checkpoint_safe_globals())
