"""Test a checkpoint of a multimodal recogniser on the test split.

Example:
    python tools/test.py configs/jt_mfeat.py \
        work_dirs/jt_mfeat/best_acc_top1_epoch_12.pth

The order in which the arguments reach the config is in ``--help``
(:data:`MERGE_ORDER`).
"""
import argparse
import json
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.dist import is_main_process
from mmengine.runner import Runner

from mmdr.utils import (apply_data_options, format_each_config_text_once,
                        register_all_modules, set_data_root,
                        setup_cpu_distributed, teardown_distributed)

#: How the arguments reach the config (shown by --help).
MERGE_ORDER = (
    'The arguments reach the config in the order of mmaction2\'s '
    'tools/test.py: --data-root and --launcher, then --cfg-options, then '
    '--work-dir and the checkpoint, which win over the same keys given '
    'in --cfg-options (--work-dir a --cfg-options work_dir=b writes to a; '
    'the checkpoint is always the one named). --dump comes last, unlike '
    'in mmaction2\'s tool, so that it adds its DumpResults to the '
    'evaluator that --cfg-options may have set; then the loaders left '
    'without workers lose persistent_workers.')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Test a multimodal recogniser', epilog=MERGE_ORDER)
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir', help='the dir to save the logs and metrics of this test')
    parser.add_argument(
        '--data-root',
        help='the folder of the data set: sets data_root of every data set '
        'of the config (the three loaders, and D&R\'s where given)')
    parser.add_argument(
        '--dump',
        type=str,
        help='dump the predictions to this pickle file (.pkl)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings; merged between the other '
        'arguments (see below)')
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

    In the order of :data:`MERGE_ORDER`.

    Args:
        cfg (Config): The config file's config, changed in place.
        args (argparse.Namespace): The parsed command line.

    Returns:
        Config: The config to test with.
    """
    if args.data_root is not None:
        set_data_root(cfg, args.data_root)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)

    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    if not osp.isfile(args.checkpoint):
        raise SystemExit(f'checkpoint {args.checkpoint} not found')
    cfg.load_from = args.checkpoint
    cfg.resume = False

    if args.dump is not None:
        if not args.dump.endswith(('.pkl', '.pickle')):
            raise SystemExit(f'--dump {args.dump}: use a .pkl file')
        if osp.exists(args.dump):
            raise SystemExit(f'--dump {args.dump} exists; choose a new file')
        dump_metric = dict(type='DumpResults', out_file_path=args.dump)
        evaluator = cfg.test_evaluator
        if isinstance(evaluator, (list, tuple)):
            cfg.test_evaluator = [*evaluator, dump_metric]
        else:
            cfg.test_evaluator = [evaluator, dump_metric]
    # The data root is set above; this drops persistent_workers from the
    # loaders that the final config leaves without workers.
    apply_data_options(cfg)
    return cfg


def main() -> None:
    args = parse_args()
    format_each_config_text_once()
    register_all_modules(init_default_scope=False)
    cfg = merge_args(Config.fromfile(args.config), args)
    setup_cpu_distributed(cfg, cfg.launcher)
    if 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        from mmengine.registry import RUNNERS
        runner = RUNNERS.build(cfg)
    metrics = runner.test()
    if is_main_process():
        print(f'Test metrics of {args.checkpoint}:')
        print(json.dumps(metrics, indent=2, sort_keys=True))
    # Freed before the process group goes (see teardown_distributed).
    del runner
    teardown_distributed()


if __name__ == '__main__':
    main()
