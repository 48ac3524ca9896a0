"""Training speed and memory of a config's model on one device, model only.

Builds the config's model and its ``optim_wrapper`` (with ``--amp`` its
mixed-precision form, as ``tools/train.py --amp`` makes it), fills the
device with random inputs of the shapes its pipeline packs (by default
CREMA-D's: 2 frames of 3 x 224 x 224 and a 1 x 257 x 188 spectrogram) and
times ``model.train_step`` (data preprocessor, forward, loss, backward, a
balancer's gradient change, optimiser step) over ``--iters`` batches after
``--warmup`` ones. It reports the time per iteration, samples per second,
the peak device memory (CUDA) and, from them, one epoch of
``--train-size`` samples and ``train_cfg.max_epochs`` epochs: training steps
only, without data loading, validation or D&R (whose cost
``tools/analysis/benchmark_diagnosis_cost.py`` measures).

Example (CREMA-D's reference model on a GPU, mixed precision):
    python tools/analysis/benchmark_training_speed.py configs/dr_cremad.py \
        --device cuda --amp
"""
import argparse
import statistics
import time

import torch
from mmengine.config import Config, DictAction
from mmengine.fileio import dump
from mmengine.optim import build_optim_wrapper

from mmdr.analysis import (CREMAD_SHAPES, iter_batches, parse_input_shapes,
                           random_modality_inputs)
from mmdr.analysis.synthetic_batches import synchronize
from mmdr.engine.optimizers import amp_optim_wrapper_cfg
from mmdr.models.balancers import BaseBalancer
from mmdr.registry import MODELS
from mmdr.utils import register_all_modules


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Training speed and memory, model only')
    parser.add_argument('config', help='a config whose model to train')
    parser.add_argument(
        '--device', help='cuda if available, else cpu (default)')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='mixed precision, as tools/train.py --amp (GPU)')
    parser.add_argument(
        '--shapes',
        nargs='+',
        default=list(CREMAD_SHAPES),
        metavar='MODALITY=D,D,...',
        help='per-sample input shape of every modality, as the pipeline '
        f'packs it (default: {" ".join(CREMAD_SHAPES)})')
    parser.add_argument(
        '--batch-size',
        type=int,
        help='samples per step (default: train_dataloader.batch_size)')
    parser.add_argument('--iters', type=int, default=20)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument(
        '--train-size',
        type=int,
        default=5954,
        help="training samples of one epoch (default: CREMA-D's 5,954)")
    parser.add_argument('--threads', type=int, help='torch CPU threads')
    parser.add_argument('--out', help='also write the figures to this JSON')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args()


def check_balancer(model) -> None:
    """Refuse a balancer that also acts per epoch (PMR's prototypes come
    from BalancerHook in a Runner); per-step ones are timed as they run."""
    balancer = getattr(model, 'balancer', None)
    if balancer is not None and (type(balancer).before_train_epoch
                                 is not BaseBalancer.before_train_epoch):
        raise SystemExit(
            f'{balancer.name} also acts before every epoch (through '
            'BalancerHook in a Runner); this tool times training steps '
            'alone, so time it with tools/train.py instead')


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    register_all_modules()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    device = torch.device(
        args.device or ('cuda' if torch.cuda.is_available() else 'cpu'))
    if args.amp:
        if device.type != 'cuda':
            raise SystemExit('--amp trains in mixed precision on a GPU; '
                             f'the device is {device}')
        try:
            cfg.optim_wrapper = amp_optim_wrapper_cfg(cfg.optim_wrapper)
        except ValueError as err:
            raise SystemExit(f'{args.config}: {err}')
    torch.backends.cudnn.benchmark = bool(
        cfg.get('env_cfg', {}).get('cudnn_benchmark', False))
    batch_size = args.batch_size or cfg.train_dataloader.batch_size

    # Initialisation does not change the time of a step.
    model = MODELS.build(cfg.model).to(device).train()
    check_balancer(model)
    try:
        shapes = parse_input_shapes(args.shapes, model.modalities, '--shapes')
    except ValueError as err:
        raise SystemExit(str(err))
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    steps = args.warmup + args.iters
    data = random_modality_inputs(model, shapes, steps * batch_size,
                                  model.cls_head.num_classes, 0, device)

    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    for i, batch in enumerate(iter_batches(data, batch_size)):
        synchronize(device)
        start = time.perf_counter()
        losses = model.train_step(batch, optim_wrapper)
        synchronize(device)
        if i >= args.warmup:
            times.append(time.perf_counter() - start)
    loss = float(losses['loss'].detach())
    if loss != loss:
        raise SystemExit(f'the loss is NaN after {steps} steps')

    step_s = statistics.median(times)
    samples_per_s = batch_size / step_s
    epoch_s = args.train_size / samples_per_s
    max_epochs = cfg.train_cfg.get('max_epochs')
    peak_gib = (
        torch.cuda.max_memory_allocated(device) /
        2**30 if device.type == 'cuda' else None)
    name = torch.cuda.get_device_name(device) if device.type == 'cuda' \
        else 'CPU'
    shape_text = ', '.join(f'{m} {"x".join(map(str, s))}'
                           for m, s in shapes.items())
    print(f'{args.config} on {device} ({name}), '
          f'{type(optim_wrapper).__name__}, batch {batch_size} ({shape_text}'
          f'), median of {args.iters} steps after {args.warmup}, torch '
          f'threads {torch.get_num_threads()}; training steps only (no data '
          'loading, validation or D&R)\n')
    print('| measure | value |\n|---|---|')
    print(f'| one step (s) | {step_s:.4f} |')
    print(f'| samples/s | {samples_per_s:.1f} |')
    if peak_gib is not None:
        print(f'| peak memory allocated (GiB) | {peak_gib:.2f} |')
    print(f'| one epoch of {args.train_size} samples (min) | '
          f'{epoch_s / 60:.2f} |')
    if max_epochs:
        print(f'| {max_epochs} epochs (h) | '
              f'{epoch_s * max_epochs / 3600:.2f} |')
    if args.out:
        dump(
            dict(
                config=args.config,
                device=str(device),
                device_name=name,
                optim_wrapper=type(optim_wrapper).__name__,
                batch_size=batch_size,
                shapes={
                    m: list(s)
                    for m, s in shapes.items()
                },
                iters=args.iters,
                warmup=args.warmup,
                step_s=step_s,
                samples_per_s=samples_per_s,
                peak_memory_gib=peak_gib,
                train_size=args.train_size,
                epoch_s=epoch_s,
                max_epochs=max_epochs,
                final_loss=loss),
            args.out,
            file_format='json',
            indent=1)


if __name__ == '__main__':
    main()
