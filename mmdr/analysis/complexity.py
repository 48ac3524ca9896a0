"""Parameters and FLOPs of a model per sample, counted by torch's
``FlopCounterMode`` (matrix products, convolutions and attention: 2 FLOPs
per multiply-add; element-wise operations, normalisation and pooling are
not counted)."""
from typing import Dict

import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from torch.utils.flop_counter import FlopCounterMode

from mmdr.registry import DATASETS, MODELS


def parameter_count(model: torch.nn.Module) -> int:
    """Number of parameters the model holds, trainable or not (auxiliary
    heads and a balancing method's own modules included).

    Args:
        model (nn.Module): The model.

    Returns:
        int: The count.
    """
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def prediction_flops(model: torch.nn.Module, batch: dict) -> int:
    """FLOPs of the model's prediction of a batch, in eval mode.

    Args:
        model (nn.Module): A recogniser (``forward(inputs, data_samples,
            mode='tensor')``, e.g. :class:`MultiModalRecognizer`).
        batch (dict): A batch as the dataloader yields it; it goes through
            the data preprocessor with ``training=False`` (not counted).

    Returns:
        int: FLOPs of the class scores of the batch.
    """
    was_training = model.training
    model.eval()
    try:
        data = model.data_preprocessor(batch, training=False)
        with FlopCounterMode(display=False) as counter:
            model(data['inputs'], data['data_samples'], mode='tensor')
        return int(counter.get_total_flops())
    finally:
        model.train(was_training)


def model_complexity(cfg: Config, split: str = 'test') -> Dict[str, int]:
    """Parameters of ``cfg.model`` and FLOPs of its prediction of one
    sample of a split, as tested (every clip and crop of the sample's
    pipeline). The weights do not change the counts: the model is built
    and not loaded.

    Args:
        cfg (Config): The config.
        split (str): Whose first sample: ``'val'`` or ``'test'``. Defaults
            to ``'test'``.

    Returns:
        dict[str, int]: ``params`` and ``flops`` (per sample).
    """
    model = MODELS.build(cfg.model)
    dataset = DATASETS.build(cfg.get(f'{split}_dataloader').dataset)
    batch = pseudo_collate([dataset[0]])
    return dict(
        params=parameter_count(model), flops=prediction_flops(model, batch))
