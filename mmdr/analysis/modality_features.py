"""Per-modality features of a data set from a trained recogniser, and the
checkpoint loading that the analyses share."""
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from mmdr.registry import DATASETS, MODELS
from mmdr.utils.feature_pass import gather_modality_features


def load_model_checkpoint(cfg: Config, checkpoint: str) -> torch.nn.Module:
    """Build ``cfg.model`` and load a checkpoint's weights into it.

    Args:
        cfg (Config): The config the checkpoint was trained with.
        checkpoint (str): An mmengine checkpoint (``state_dict`` inside).

    Returns:
        nn.Module: The model with the checkpoint's weights, in eval mode.

    Raises:
        ValueError: If the checkpoint's weights do not fit the model
            (missing or unexpected keys, other shapes), naming them.
    """
    model = MODELS.build(cfg.model)
    # Not mmengine's load_checkpoint: it only warns about keys that do not
    # fit, and an analysis of another model's checkpoint must stop.
    loaded = torch.load(checkpoint, map_location='cpu')
    state = loaded.get('state_dict', loaded)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shapes = sorted(f'{k}: {tuple(state[k].shape)} (checkpoint) vs '
                    f'{tuple(v.shape)} (model)' for k, v in expected.items()
                    if k in state and tuple(state[k].shape) != tuple(v.shape))
    if missing or unexpected or shapes:

        def encoders(keys):
            return sorted(
                {k.split('.')[1]
                 for k in keys if k.startswith('encoders.')})

        raise ValueError(
            f'{checkpoint} does not fit the model of the config (encoders '
            f'{encoders(state)} in the checkpoint, {encoders(expected)} in '
            'the model): missing '
            f'keys {missing[:6]}{"..." if len(missing) > 6 else ""}, '
            f'unexpected keys {unexpected[:6]}'
            f'{"..." if len(unexpected) > 6 else ""}, other shapes '
            f'{shapes[:6]}. Give the config it was trained with.')
    model.load_state_dict(state)
    return model.eval()


def extract_modality_features(
    model: torch.nn.Module,
    dataset_cfg: dict,
    batch_size: int = 32,
    num_workers: int = 0,
    modalities: Optional[List[str]] = None
) -> Tuple[Dict[str, np.ndarray], np.ndarray]:
    """Pooled features of every modality and the labels of a data set.

    Args:
        model (nn.Module): A recogniser with ``extract_modality_features``
            (e.g. :class:`MultiModalRecognizer`).
        dataset_cfg (dict): The data set config (read in its order).
        batch_size (int): Batch size. Defaults to 32.
        num_workers (int): Loader workers. Defaults to 0.
        modalities (list[str], optional): Which encoders. Defaults to all.

    Returns:
        tuple: ``{modality: (N, D) array}`` and the ``(N, )`` labels.
    """
    loader = ordered_loader(dataset_cfg, batch_size, num_workers)
    return gather_modality_features(model, loader, modalities)


def ordered_loader(dataset_cfg: dict,
                   batch_size: int = 32,
                   num_workers: int = 0) -> torch.utils.data.DataLoader:
    """A loader that reads a data set once, in its order.

    Args:
        dataset_cfg (dict): The data set config.
        batch_size (int): Batch size. Defaults to 32.
        num_workers (int): Loader workers. Defaults to 0.

    Returns:
        DataLoader: The loader.
    """
    return Runner.build_dataloader(
        dict(
            batch_size=batch_size,
            num_workers=num_workers,
            sampler=dict(type='DefaultSampler', shuffle=False),
            dataset=DATASETS.build(dataset_cfg)))
