"""Random batches of a model's input shapes, already on its device, for the
model-only speed benchmarks (no data set, no loading)."""
import statistics
import time
from typing import Callable, Dict, Iterator, List, Sequence, Tuple

import numpy as np
import torch
from mmaction.structures import ActionDataSample

#: Per-sample shapes of CREMA-D's pipeline in ``configs/dr_cremad.py``:
#: 2 frames of 3 x 224 x 224, a 1 x 257 x 188 log-spectrogram.
CREMAD_SHAPES = ('visual=2,3,224,224', 'audio=1,257,188')

#: Modality to per-sample shape.
InputShapes = Dict[str, Tuple[int, ...]]


def parse_input_shapes(items: Sequence[str], modalities: Sequence[str],
                       source: str) -> InputShapes:
    """``MODALITY=D,D,...`` strings to per-sample shapes.

    Args:
        items (Sequence[str]): The strings, one per modality.
        modalities (Sequence[str]): The model's modalities, all of which
            need a shape.
        source (str): Where the strings came from, for messages.

    Returns:
        dict[str, tuple[int]]: Modality to per-sample shape.

    Raises:
        ValueError: If a string is malformed, or the modalities differ from
            the model's.
    """
    shapes = {}
    for item in items:
        name, _, dims = item.partition('=')
        try:
            shape = tuple(int(d) for d in dims.split(','))
        except ValueError:
            shape = ()
        if not name or not shape or min(shape) < 1:
            raise ValueError(f'{source}: {item!r} is not MODALITY=D,D,... '
                             'with positive integers, e.g. audio=1,257,188')
        shapes[name] = shape
    if sorted(shapes) != sorted(modalities):
        raise ValueError(f'{source} gives shapes of {sorted(shapes)}; the '
                         f'model\'s modalities are {sorted(modalities)}')
    return shapes


def random_modality_inputs(model: torch.nn.Module, shapes: InputShapes,
                           size: int, num_classes: int, seed: int,
                           device: torch.device) -> dict:
    """Random samples on the device, as the dataloader would deliver them.

    A modality whose data preprocessor normalises (``mean`` set) gets uint8
    pixels, as decoded frames are; the others get float32 values.

    Args:
        model (nn.Module): A :class:`MultiModalRecognizer`, whose data
            preprocessor has one preprocessor per modality.
        shapes (dict[str, tuple[int]]): Per-sample shape of each modality.
        size (int): Number of samples.
        num_classes (int): Labels are drawn from ``range(num_classes)``.
        seed (int): Seed of the values and labels.
        device (torch.device): Where the inputs live.

    Returns:
        dict: ``inputs`` (modality to a ``(size, *shape)`` tensor) and
        ``labels`` (a ``(size, )`` int array).
    """
    generator = torch.Generator(device=device).manual_seed(seed)
    preprocessors = model.data_preprocessor.preprocessors
    inputs = {}
    for m, shape in shapes.items():
        if getattr(preprocessors[m], '_enable_normalize', False):
            inputs[m] = torch.randint(
                0,
                256, (size, *shape),
                dtype=torch.uint8,
                generator=generator,
                device=device)
        else:
            inputs[m] = torch.randn((size, *shape),
                                    generator=generator,
                                    device=device)
    labels = np.random.default_rng(seed).integers(0, num_classes, size)
    return dict(inputs=inputs, labels=labels)


def iter_batches(data: dict, batch_size: int) -> Iterator[dict]:
    """Dataloader-style batches of :func:`random_modality_inputs`' samples.

    Args:
        data (dict): ``inputs`` and ``labels`` as that function returns.
        batch_size (int): Samples per batch (the last may hold fewer).

    Yields:
        dict: ``inputs`` (modality to a list of per-sample tensors) and
        ``data_samples`` (``ActionDataSample`` with ``gt_labels``).
    """
    size = len(data['labels'])
    for start in range(0, size, batch_size):
        stop = min(start + batch_size, size)
        yield dict(
            inputs={
                m: list(x[start:stop].unbind(0))
                for m, x in data['inputs'].items()
            },
            data_samples=[
                ActionDataSample().set_gt_labels(int(label))
                for label in data['labels'][start:stop]
            ])


def median_wall_time(function: Callable, device: torch.device,
                     repeats: int) -> Tuple[float, object]:
    """Median wall time of ``function`` after one warm-up call, the device
    synchronised around each call.

    Args:
        function (Callable): Called without arguments.
        device (torch.device): Whose work to wait for (CUDA only).
        repeats (int): Timed calls.

    Returns:
        tuple: The median in seconds, and the last call's result.
    """
    # Not torch.utils.benchmark.Timer: it warms up twice per measurement,
    # times blocks of calls without their results and waits for the current
    # device, not ``device``.
    function()
    times: List[float] = []
    result = None
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        result = function()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (a no-op on the CPU)."""
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
