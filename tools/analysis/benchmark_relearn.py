"""Measure what one re-learning step costs, without data.

Builds the encoders of a paper-scale model (by default mmaction2's TSM-50
for RGB frames plus a 1-channel ResNet-18 for spectrograms, about 35 M
parameters) and times, as the median of ``--repeats``:

- the blend ``theta <- (1 - a) theta + a theta_init`` of every parameter,
  with ``theta_init`` on the CPU (``DRHook(init_state_device='cpu')``) and
  on the encoders' device (``init_state_device='model'``);
- the cross-rank check of a multi-process run: the device fingerprint that
  ``DRHook`` computes (:func:`mmdr.utils.tensors_fingerprint`), against a
  SHA-256 digest of every tensor copied to the CPU (what mmdr 0.1 did, also
  with one process).

Example:
    python tools/analysis/benchmark_relearn.py --device cuda
"""
import argparse
import hashlib
import statistics
import time
from typing import Callable

import torch

from mmdr.diagnosis import blend_toward_init
from mmdr.registry import MODELS
from mmdr.utils import register_all_modules, tensors_fingerprint

ENCODERS = dict(
    visual=dict(
        type='FrameEncoder',
        feat_dim=2048,
        backbone=dict(
            type='ResNetTSM',
            depth=50,
            num_segments=8,
            pretrained=None,
            pretrained2d=False)),
    audio=dict(
        type='SpectrogramEncoder',
        feat_dim=512,
        backbone=dict(type='ResNet', depth=18, in_channels=1,
                      pretrained=None)))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Cost of one re-learning')
    parser.add_argument('--device', default='cpu', help='cpu or cuda')
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--strength', type=float, default=0.3)
    return parser.parse_args()


def timed(fn: Callable[[], object], device: str, repeats: int) -> float:
    """Median wall time of ``fn`` in seconds, device work included."""
    times = []
    for _ in range(repeats):
        if device.startswith('cuda'):
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.startswith('cuda'):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def sha256_digest(encoder: torch.nn.Module) -> str:
    sha = hashlib.sha256()
    for name, tensor in encoder.named_parameters():
        sha.update(name.encode())
        sha.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return sha.hexdigest()


def main() -> None:
    args = parse_args()
    register_all_modules(init_default_scope=False)
    encoders = {m: MODELS.build(cfg) for m, cfg in ENCODERS.items()}
    for encoder in encoders.values():
        encoder.init_weights()
        encoder.to(args.device)
    num_params = sum(p.numel() for e in encoders.values()
                     for p in e.parameters())
    inits = {
        where: {
            m: {
                k:
                v.detach().clone().to('cpu' if where == 'cpu' else args.device)
                for k, v in e.named_parameters()
            }
            for m, e in encoders.items()
        }
        for where in ('cpu', 'model')
    }

    def blend(where):

        def run():
            for m, encoder in encoders.items():
                blend_toward_init(
                    dict(encoder.named_parameters()), inits[where][m],
                    args.strength)

        return run

    def fingerprint():
        return [
            tensors_fingerprint(e.state_dict().values())
            for e in encoders.values()
        ]

    def digest():
        return [sha256_digest(e) for e in encoders.values()]

    rows = [
        ("blend, theta_init on the CPU ('cpu')", blend('cpu')),
        ("blend, theta_init on the device ('model')", blend('model')),
        ('rank check: fingerprint in place (mmdr >= 0.2, >1 process only)',
         fingerprint),
        ('rank check: SHA-256 via the CPU (mmdr 0.1, every run)', digest),
    ]
    print(f'{num_params / 1e6:.1f} M encoder parameters on {args.device} '
          f'(torch {torch.__version__}, {torch.get_num_threads()} threads), '
          f'median of {args.repeats}')
    print('| step | ms |\n|---|---|')
    for name, fn in rows:
        fn()  # warm-up
        print(f'| {name} | {1000 * timed(fn, args.device, args.repeats):.1f} '
              '|')


if __name__ == '__main__':
    main()
