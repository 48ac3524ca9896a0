"""UMT's uni-modal teachers: which file a teacher is, the encoder weights a
checkpoint holds, their digest, and the distillation loss.

Pure logic on paths and tensors (no mmengine), used by
:class:`mmdr.models.balancers.UMT`.
"""
import glob
import hashlib
import os.path as osp
from typing import Dict, Mapping

import torch
import torch.nn.functional as F

from .pretrained import shorten


def teacher_checkpoint_file(path: str, key: str) -> str:
    """The checkpoint file a teacher setting names.

    Args:
        path (str): A checkpoint file, or the work dir of a finished run,
            which holds one ``best_*.pth`` (mmengine's ``CheckpointHook``
            keeps only the best on the validation metric).
        key (str): The setting, for messages
            (``model.balancer.teachers.<modality>``).

    Returns:
        str: The checkpoint file.

    Raises:
        FileNotFoundError: Nothing is at ``path``, or its folder holds no
            single best checkpoint.
    """
    if osp.isfile(path):
        return path
    if osp.isdir(path):
        found = sorted(glob.glob(osp.join(glob.escape(path), 'best_*.pth')))
        if len(found) == 1:
            return found[0]
        raise FileNotFoundError(
            f'{key}={path!r} is a folder with {len(found)} best checkpoints '
            f'(best_*.pth: {shorten([osp.basename(f) for f in found])}); '
            'name the checkpoint file')
    raise FileNotFoundError(f'{key}={path!r}: no such file or folder')


def teacher_encoder_state(state_dict: Mapping[str, torch.Tensor],
                          modality: str, own: Mapping[str, torch.Tensor],
                          source: str) -> Dict[str, torch.Tensor]:
    """The weights of one encoder in a checkpoint of a recogniser trained on
    that modality alone, checked against the encoder that takes them.

    Args:
        state_dict (Mapping[str, torch.Tensor]): The checkpoint's
            ``state_dict`` (keys ``encoders.<modality>.*``).
        modality (str): The teacher's modality.
        own (Mapping[str, torch.Tensor]): The state dict of the encoder
            that takes the weights.
        source (str): The setting and file, for messages.

    Returns:
        dict[str, torch.Tensor]: The encoder's state dict (prefix
        stripped), every key and shape equal to ``own``'s.

    Raises:
        ValueError: The checkpoint holds other encoders too (it is not a
            uni-modal model), or its encoder's keys or shapes differ.
    """
    prefix = f'encoders.{modality}.'
    encoders = sorted(
        {k.split('.')[1]
         for k in state_dict if k.startswith('encoders.')})
    if encoders != [modality]:
        raise ValueError(
            f'{source} holds the encoders {encoders}, not a model of '
            f'{modality!r} alone: a teacher is this recogniser trained with '
            f"model.modalities=['{modality}']")
    state = {
        k[len(prefix):]: v
        for k, v in state_dict.items() if k.startswith(prefix)
    }
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [
        f'{k}: {tuple(state[k].shape)} (checkpoint) vs {tuple(v.shape)} '
        '(encoder)' for k, v in own.items()
        if k in state and state[k].shape != v.shape
    ]
    if missing or unexpected or shapes:
        raise ValueError(
            f'{source}: its {modality} encoder does not fit the model\'s '
            f'(missing: {shorten(missing) or "none"}; unexpected: '
            f'{shorten(unexpected) or "none"}; other shapes: '
            f'{shorten(shapes) or "none"}); the teacher must be trained with '
            'the same encoder config')
    return state


def state_digest(state: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """SHA-256 of a state dict's names, dtypes, shapes and values.

    Args:
        state (Mapping[str, torch.Tensor]): The tensors.

    Returns:
        torch.Tensor: The 32 bytes of the digest, uint8.
    """
    sha = hashlib.sha256()
    for key in sorted(state):
        tensor = state[key].detach().cpu().contiguous()
        sha.update(f'{key}|{tensor.dtype}|{tuple(tensor.shape)}|'.encode())
        sha.update(tensor.view(-1).view(torch.uint8).numpy().tobytes())
    return torch.tensor(list(sha.digest()), dtype=torch.uint8)


def feature_distillation_loss(student: torch.Tensor, teacher: torch.Tensor,
                              weight: float) -> torch.Tensor:
    """UMT's distillation loss of one modality: ``weight`` times the mean
    squared error between the student's and the teacher's features.

    Args:
        student (torch.Tensor): (N, D) features of the multi-modal model's
            encoder, with gradients.
        teacher (torch.Tensor): (N, D) features of the uni-modal teacher.
        weight (float): The loss weight.

    Returns:
        torch.Tensor: The scalar loss.
    """
    return weight * F.mse_loss(student, teacher.to(student.dtype))
