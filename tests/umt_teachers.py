"""Uni-modal teacher checkpoints for UMT tests: a recogniser built with
``model.modalities=[m]`` and saved as mmengine's CheckpointHook saves one
(its ``meta`` holds numpy values, which ``torch.load(weights_only=True)``
reads through mmdr's allow-list)."""
import copy
import os.path as osp
from pathlib import Path
from typing import Dict, List

import numpy as np
import torch
from mmengine.config import Config

from mmdr.registry import MODELS


def save_teacher(model_cfg: dict,
                 modality: str,
                 path: Path,
                 seed: int = 0) -> str:
    """Build ``model_cfg`` on one modality, initialise it and save it.

    Args:
        model_cfg (dict): A recogniser config (its balancer and uni-modal
            heads are dropped, as the benchmark's ``alone`` runs of a
            joint-training config have none).
        modality (str): The teacher's modality.
        path (Path): The checkpoint file to write.
        seed (int): Seed of the initialisation. Defaults to 0.

    Returns:
        str: ``path``.
    """
    cfg = copy.deepcopy(dict(model_cfg))
    cfg.pop('balancer', None)
    cfg.pop('unimodal_head', None)
    cfg['modalities'] = [modality]
    torch.manual_seed(seed)
    model = MODELS.build(cfg)
    model.init_weights()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        dict(
            meta=dict(epoch=3, seed=np.int64(seed)),
            state_dict=model.state_dict()), path)
    return str(path)


def config_teachers(config: str, folder: Path) -> Dict[str, str]:
    """Teacher checkpoints for every modality of a shipped UMT config,
    made once per folder.

    Args:
        config (str): The config file.
        folder (Path): Where the checkpoints go.

    Returns:
        dict[str, str]: Modality to checkpoint.
    """
    model_cfg = Config.fromfile(config).model
    teachers = {}
    for m in model_cfg.encoders:
        path = folder / osp.splitext(osp.basename(config))[0] / f'{m}.pth'
        teachers[m] = str(path) if path.is_file() else save_teacher(
            model_cfg, m, path)
    return teachers


def teacher_options(config: str, folder: Path) -> List[str]:
    """``--cfg-options`` that give a UMT config test teachers; none for any
    other config.

    Args:
        config (str): The config file.
        folder (Path): Where the checkpoints go.

    Returns:
        list[str]: ``model.balancer.teachers.<m>=<checkpoint>`` options.
    """
    balancer = Config.fromfile(config).model.get('balancer') or {}
    if balancer.get('type') != 'UMT':
        return []
    return [
        f'model.balancer.teachers.{m}={path}'
        for m, path in config_teachers(config, folder).items()
    ]
