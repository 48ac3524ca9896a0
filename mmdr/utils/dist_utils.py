"""Start distributed training on machines without CUDA.

mmengine 0.10's ``init_dist`` calls ``torch.cuda.set_device`` for every
launcher and its default DDP wrapper passes ``device_ids=[LOCAL_RANK]``; both
fail for a CPU-only torch. The Runner skips ``init_dist`` when a process group
already exists, so on such machines we start a gloo group ourselves and let
DDP wrap the CPU module with ``device_ids=None``. On CUDA machines nothing
changes: mmengine starts NCCL as usual.
"""
import os
import subprocess

import numpy as np
import torch
import torch.distributed as torch_dist
from mmengine.config import Config


def slurm_env_to_torch_env(environ: dict) -> dict:
    """Translate Slurm's task variables into ``torch.distributed`` ones.

    Args:
        environ (dict): The process environment, e.g. ``os.environ``.

    Returns:
        dict: ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and
        ``MASTER_PORT`` (values already present in ``environ`` win).
    """
    missing = [
        k for k in ('SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_NODELIST')
        if k not in environ
    ]
    if missing:
        raise RuntimeError(
            f'--launcher slurm needs the Slurm variables {missing}; run the '
            'command through srun (see tools/slurm_train.sh).')
    master_addr = environ.get('MASTER_ADDR')
    if master_addr is None:
        master_addr = subprocess.getoutput(
            f'scontrol show hostname {environ["SLURM_NODELIST"]} | head -n1')
    return dict(
        RANK=environ['SLURM_PROCID'],
        WORLD_SIZE=environ['SLURM_NTASKS'],
        LOCAL_RANK=environ.get('SLURM_LOCALID', '0'),
        MASTER_ADDR=master_addr,
        MASTER_PORT=environ.get('MASTER_PORT', '29500'))


def setup_cpu_distributed(cfg: Config, launcher: str) -> None:
    """Start a gloo process group when distributed training has no CUDA.

    Args:
        cfg (Config): The config; a DDP ``model_wrapper_cfg`` is given
            ``device_ids=None`` unless the user set device ids.
        launcher (str): ``'none'``, ``'pytorch'`` or ``'slurm'``.
    """
    if launcher == 'none' or torch.cuda.is_available():
        return
    if launcher not in ('pytorch', 'slurm'):
        raise ValueError(
            f'--launcher {launcher} is not supported on a machine without '
            "CUDA; use 'pytorch' (torchrun) or 'slurm'.")
    if launcher == 'slurm':
        os.environ.update(slurm_env_to_torch_env(dict(os.environ)))
    if not torch_dist.is_initialized():
        torch_dist.init_process_group(backend='gloo', init_method='env://')
    # The wrapper mmengine builds when the config names none, as on GPUs.
    wrapper_cfg = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel',
        broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    if wrapper_cfg.get(
            'type',
            'MMDistributedDataParallel') in ('MMDistributedDataParallel',
                                             'DistributedDataParallel'):
        # DDP rejects device ids for a CPU module.
        wrapper_cfg.setdefault('device_ids', None)
    cfg.model_wrapper_cfg = wrapper_cfg


def gather_in_sampler_order(part: np.ndarray, size: int) -> np.ndarray:
    """Gather per-sample rows that ``DefaultSampler`` spread over ranks.

    With ``shuffle=False`` the sampler gives rank ``r`` the samples
    ``r, r + W, r + 2W, ...`` of the data set, padded so that every rank has
    as many; interleaving the ranks' rows restores the data set order, and
    the padding is cut off. Unlike mmengine's ``collect_results(device=
    'cpu')`` no shared folder is needed, and every rank receives the result.

    Args:
        part (np.ndarray): This rank's rows, one per sample, in sampler
            order.
        size (int): Number of samples in the data set.

    Returns:
        np.ndarray: All rows in data set order, on every rank.
    """
    from mmengine.dist import all_gather_object, get_world_size
    if get_world_size() == 1:
        return part[:size]
    parts = all_gather_object(part)
    # (W, n, ...) -> (n, W, ...) -> rows in the order 0, 1, 2, ...
    return np.stack(parts, axis=1).reshape(-1, *part.shape[1:])[:size]
