"""Train a multimodal recogniser with mmengine's Runner.

Examples:
    python tools/train.py configs/jt_mfeat.py --test-best
    python tools/train.py configs/jt_mfeat.py --resume
    torchrun --nproc_per_node=2 tools/train.py configs/jt_mfeat.py \
        --launcher pytorch

The order in which the arguments reach the config is in ``--help``
(:data:`MERGE_ORDER`).
"""
import argparse
import json
import os
import os.path as osp

import torch
from mmengine.config import Config, DictAction
from mmengine.dist import barrier, is_main_process
from mmengine.runner import Runner

from mmdr.diagnosis import format_dr_history
from mmdr.engine.hooks import DRHook
from mmdr.engine.optimizers import amp_optim_wrapper_cfg
from mmdr.utils import (apply_data_options, check_no_earlier_run,
                        format_each_config_text_once, register_all_modules,
                        set_data_root, setup_cpu_distributed,
                        teardown_distributed)

#: How the arguments reach the config (shown by --help).
MERGE_ORDER = (
    'The arguments reach the config in the order of mmaction2\'s '
    'tools/train.py: those that set a value (--data-root, --work-dir, '
    '--resume, --auto-scale-lr, the seed options, --launcher) before '
    '--cfg-options, which wins where it sets the same key (--work-dir a '
    '--cfg-options work_dir=b trains in b). Those that change what the '
    'config ends with come after --cfg-options, unlike in mmaction2\'s '
    'tool, so that they see the options: --amp switches the final '
    'optim_wrapper to its mixed-precision form; --no-validate removes the '
    'validation loop and hands its data set, as the options left it, to '
    'D&R (an option naming val_dataloader would otherwise fail); and '
    'loaders left without workers lose persistent_workers. Also unlike '
    'mmaction2\'s tool, --seed, --diff-rank-seed and --deterministic '
    'update the config\'s randomness even where the config sets it, as '
    'every mmdr config does.')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Train a multimodal recogniser', epilog=MERGE_ORDER)
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--data-root',
        help='the folder of the data set: sets data_root of every data set '
        'of the config (the three loaders, and D&R\'s where given)')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint, or, with no value, from the '
        'latest checkpoint in the work dir')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='enable automatic mixed precision training (GPU)')
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='do not evaluate on the validation split during training')
    parser.add_argument(
        '--test-best',
        action='store_true',
        help='after training, test the checkpoint that was best on the '
        'validation split (the last one with --no-validate) and print the '
        'test metrics')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the learning rate with the total batch size')
    parser.add_argument('--seed', type=int, default=None, help='random seed')
    parser.add_argument(
        '--diff-rank-seed',
        action='store_true',
        help='give every rank a different seed')
    parser.add_argument(
        '--deterministic',
        action='store_true',
        help='make cuDNN deterministic')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. '
        'train_cfg.max_epochs=5 model.fusion.type=SumFusion; merged after '
        'the other arguments (see below)')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Merge the command-line arguments into the config.

    In the order of :data:`MERGE_ORDER`: ``--cfg-options`` after the
    arguments that set values, before those that change what the config
    ends with.

    Args:
        cfg (Config): The config file's config, changed in place.
        args (argparse.Namespace): The parsed command line.

    Returns:
        Config: The config to train with.
    """
    if args.data_root is not None:
        set_data_root(cfg, args.data_root)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])

    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume

    if args.auto_scale_lr:
        cfg.auto_scale_lr.enable = True

    if args.seed is not None or args.deterministic or args.diff_rank_seed:
        randomness = dict(cfg.get('randomness') or {})
        if args.seed is not None:
            randomness['seed'] = args.seed
        randomness['diff_rank_seed'] = args.diff_rank_seed
        randomness['deterministic'] = args.deterministic
        cfg.randomness = randomness

    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)

    if args.amp:
        if not torch.cuda.is_available():
            raise SystemExit('--amp trains in mixed precision on a GPU; '
                             'this machine has no CUDA device')
        try:
            cfg.optim_wrapper = amp_optim_wrapper_cfg(cfg.optim_wrapper)
        except ValueError as err:
            raise SystemExit(f'{args.config}: {err}')

    if args.no_validate:
        # No validation loop, but D&R still diagnoses on the validation
        # split: hand its data set to the hook before the loader goes.
        val_loader = cfg.get('val_dataloader') or {}
        for hook in cfg.get('custom_hooks') or []:
            if hook.get('type') == 'DRHook' and 'dataset' in val_loader:
                hook.setdefault('val_dataset', val_loader['dataset'])
                hook.setdefault('batch_size', val_loader.get('batch_size'))
                hook.setdefault('num_workers', val_loader.get('num_workers'))
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None
        # Nothing to select on: keep the checkpoint hook from asking for a
        # validation metric.
        cfg.default_hooks.checkpoint.pop('save_best', None)
    # The data root is set above; this drops persistent_workers from the
    # loaders that the final config leaves without workers.
    apply_data_options(cfg)
    return cfg


def test_best(runner: Runner) -> dict:
    """Test the checkpoint selected on the validation split.

    Args:
        runner (Runner): A runner that finished training.

    Returns:
        dict: The test metrics.
    """
    best = runner.message_hub.get_info('best_ckpt')
    if best is None:
        best = osp.join(runner.work_dir, f'epoch_{runner.epoch}.pth')
        chosen = 'last epoch (no validation metric to select on)'
    else:
        chosen = 'best on the validation split'
    # The main process writes checkpoints; the others wait until it has.
    barrier()
    runner.load_checkpoint(best)
    metrics = runner.test()
    if is_main_process():
        print(f'Test metrics of {best} ({chosen}):')
        print(json.dumps(metrics, indent=2, sort_keys=True))
    return metrics


def print_dr_history(runner: Runner) -> None:
    """Print the run's D&R diagnoses as a table, on the main process.

    Args:
        runner (Runner): A runner that finished training; nothing is
            printed without a :class:`DRHook`.
    """
    hooks = [hook for hook in runner.hooks if isinstance(hook, DRHook)]
    if not hooks or not is_main_process():
        return
    hook = hooks[0]
    where = osp.join(runner.work_dir, hook.history_file)
    print('D&R diagnoses of this run' +
          (f' (also in {where}):' if hook.history else ':'))
    print(format_dr_history(hook.history))


def main() -> None:
    args = parse_args()
    format_each_config_text_once()
    register_all_modules(init_default_scope=False)
    cfg = merge_args(Config.fromfile(args.config), args)
    check_no_earlier_run(cfg.work_dir, bool(cfg.get('resume', False)))
    setup_cpu_distributed(cfg, cfg.launcher)

    if 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        from mmengine.registry import RUNNERS
        runner = RUNNERS.build(cfg)
    runner.train()
    if args.test_best:
        test_best(runner)
    print_dr_history(runner)
    # Freed before the process group goes (see teardown_distributed).
    del runner
    teardown_distributed()


if __name__ == '__main__':
    main()
