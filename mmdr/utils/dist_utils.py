"""Start distributed training on machines without CUDA.

mmengine 0.10's ``init_dist`` calls ``torch.cuda.set_device`` for every
launcher and its default DDP wrapper passes ``device_ids=[LOCAL_RANK]``; both
fail for a CPU-only torch. The Runner skips ``init_dist`` when a process group
already exists, so on such machines we start a gloo group ourselves and let
DDP wrap the CPU module with ``device_ids=None``. On CUDA machines nothing
changes: mmengine starts NCCL as usual.
"""
import gc
import hashlib
import os
import subprocess
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterable, Iterator, Optional

import mmengine.dist as mmdist
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


def teardown_distributed() -> None:
    """Destroy the process group at the end of a finished run.

    Leaving it to the interpreter's exit lets the backend's threads be torn
    down in any order (PyTorch warns about it for NCCL); every rank first
    waits for the others, so no rank leaves while another still talks.

    The caller drops its runner first: a runner lives in reference cycles
    (its loops hold it), so without a collection here its DDP wrapper, whose
    reducer holds the process group and Gloo's pending work, would be freed
    only while the interpreter shuts down, which aborted ranks on the CPU
    ("terminate called without an active exception", exit code -6).
    """
    gc.collect()
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.barrier()
        torch_dist.destroy_process_group()


def gather_in_sampler_order(part: torch.Tensor,
                            size: int) -> Optional[torch.Tensor]:
    """Gather on the main process the rows that ``DefaultSampler`` spread.

    With ``shuffle=False`` the sampler gives rank ``r`` the samples
    ``r, r + W, r + 2W, ...`` of the data set, padded so that every rank has
    as many; interleaving the ranks' rows restores the data set order, and
    the padding is cut off. Only the main process receives the rows (it is
    the one that uses them), and tensors travel on the backend's device, so
    NCCL and gloo both work.

    Args:
        part (torch.Tensor): This rank's rows, one per sample, in sampler
            order.
        size (int): Number of samples in the data set.

    Returns:
        torch.Tensor or None: All rows in data set order on the main
        process (on ``part``'s device), None on the others.
    """
    if mmdist.get_world_size() == 1:
        return part[:size]
    parts = mmdist.gather(part.contiguous(), dst=0)
    if not mmdist.is_main_process():
        return None
    # (W, n, ...) -> (n, W, ...) -> rows in the order 0, 1, 2, ...
    stacked = torch.stack([p.to(part.device) for p in parts], dim=1)
    return stacked.reshape(-1, *part.shape[1:])[:size]


# Bit patterns of floating-point tensors, read as integers of the same width.
_SAME_WIDTH_INT = {
    torch.float64: torch.int64,
    torch.float32: torch.int32,
    torch.float16: torch.int16,
    torch.bfloat16: torch.int16,
}


def bit_sums(tensor: torch.Tensor, index: int = 0) -> torch.Tensor:
    """Two wrapping 64-bit sums of a tensor's bit pattern, on its device.

    Args:
        tensor (torch.Tensor): Any tensor.
        index (int): Its position in a sequence, mixed into the weights.

    Returns:
        torch.Tensor: The plain and the position-weighted sum (int64).
    """
    flat = tensor.detach().contiguous().view(-1)
    if flat.is_floating_point():
        flat = flat.view(_SAME_WIDTH_INT[flat.dtype])
    flat = flat.to(torch.int64)
    # Odd multipliers keep every position's weight distinct mod 2**64.
    weight = torch.arange(flat.numel(), dtype=torch.int64, device=flat.device)
    weight = weight * 2654435761 + (2 * index + 1)
    return torch.stack([flat.sum(), (flat * weight).sum()])


def tensors_fingerprint(tensors: Iterable[torch.Tensor]) -> str:
    """A fingerprint of the exact bits of a sequence of tensors.

    It tells replicas that should be bit-identical apart where they live,
    without copying accelerator memory to the CPU:

    - CPU tensors: a SHA-256 digest of their bytes, read in place.
    - Other devices: every tensor's bit pattern is read as integers and
      summed twice on the device, once plainly and once weighted by
      position, in wrapping 64-bit arithmetic. Integer sums do not depend on
      the order of the reduction, so the result is the same on every device
      and run; any change of a single bit or an exchange of two values
      changes it. Only the two sums are copied back.

    Ranks compare fingerprints computed on the same kind of device.

    Args:
        tensors (Iterable[torch.Tensor]): Tensors in a fixed order.

    Returns:
        str: A hexadecimal fingerprint.
    """
    sha = hashlib.sha256()
    totals = []
    for index, tensor in enumerate(tensors):
        flat = tensor.detach().contiguous().view(-1)
        sha.update(f'{index}:{flat.dtype}:{flat.numel()};'.encode())
        if flat.device.type == 'cpu':
            sha.update(memoryview(flat.view(torch.uint8).numpy()))
        else:
            totals.append(bit_sums(flat, index))
    if totals:
        sha.update(torch.stack(totals).cpu().numpy().tobytes())
    return sha.hexdigest()


@contextmanager
def main_process_buffers(modules: Iterable[torch.nn.Module],
                         restore: bool = False) -> Iterator[None]:
    """Give every rank the main process's buffers of ``modules``.

    BatchNorm statistics drift apart between ranks under DDP with
    ``broadcast_buffers=False``; a pass that must give every rank the
    result of one process (D&R's diagnosis, PMR's prototypes) first takes
    the buffers that the main process holds and checkpoints save.

    Args:
        modules (Iterable[nn.Module]): The modules whose buffers to share.
        restore (bool): Put every rank's own buffers back when the block
            ends, so that the block changes nothing. Defaults to False (the
            shared buffers stay).

    Yields:
        None
    """
    modules = list(modules)
    if mmdist.get_world_size() == 1:
        yield
        return
    buffers = [b for module in modules for b in module.buffers()]
    kept = [b.detach().clone() for b in buffers] if restore else None
    for buffer in buffers:
        mmdist.broadcast(buffer, 0)
    try:
        yield
    finally:
        if kept is not None:
            with torch.no_grad():
                for buffer, value in zip(buffers, kept):
                    buffer.copy_(value)


def main_process_result(compute: Callable[[], Any]) -> Any:
    """Run ``compute`` on the main process and give every rank its result.

    No rank waits forever: an error on the main process is raised on every
    rank (chained to the original there).

    Args:
        compute (Callable[[], Any]): Called on the main process only; its
            result must be picklable.

    Returns:
        Any: What ``compute`` returned on the main process.
    """
    message = [None]
    error = None
    if mmdist.is_main_process():
        try:
            message = [('ok', compute())]
        except Exception as err:  # noqa: B902 - re-raised on all ranks
            error = err
            message = [('error', f'{type(err).__name__}: {err}')]
    mmdist.broadcast_object_list(message, 0)
    status, payload = message[0]
    if status == 'error':
        if error is not None:
            raise RuntimeError(payload) from error
        raise RuntimeError(f'{payload} (raised on the main process)')
    return payload


def check_same_on_ranks(tensors: Dict[str, Iterable[torch.Tensor]],
                        what: str) -> None:
    """Raise unless every rank holds bit-identical tensors (a collective
    call; nothing to compare in a single process).

    Args:
        tensors (dict[str, Iterable[Tensor]]): Named sequences of tensors,
            the same names on every rank, compared by
            :func:`tensors_fingerprint`.
        what (str): What the names are, for the message.

    Raises:
        RuntimeError: Naming the names whose tensors differ.
    """
    if mmdist.get_world_size() == 1:
        return
    fingerprints = {
        name: tensors_fingerprint(values)
        for name, values in tensors.items()
    }
    gathered = mmdist.all_gather_object(fingerprints)
    differ = [
        name for name in fingerprints
        if any(g[name] != fingerprints[name] for g in gathered)
    ]
    if differ:
        raise RuntimeError(f'{what} {differ} differ between ranks')
