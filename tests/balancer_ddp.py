"""Two processes against one: a balancer config trained under torchrun
with two ranks of half a batch, and in one process with the whole batch."""
import os.path as osp
from pathlib import Path
from typing import Callable, List

import torch
from balancer_test_hooks import parameter_dump_config
from conftest import data_root_cfg_options
from runs import build_runner, train_tool


def whole_batch_options(data_root: str, batch_size: int) -> List[str]:
    """One epoch of SGD steps on AV-Digits' 20 test-fixture training
    samples; the SmallCNNs without BatchNorm (whose batch statistics would
    differ between one process's whole batch and each rank's half), so
    2 x ``batch_size / 2`` per step is the same gradient as ``batch_size``
    in one process (up to rounding)."""
    return [
        *data_root_cfg_options(data_root),
        'train_cfg.max_epochs=1',
        f'train_dataloader.batch_size={batch_size}',
        'optim_wrapper.optimizer.type=SGD',
        'optim_wrapper.optimizer.lr=0.1',
        'model.encoders.audio.backbone.norm_cfg=None',
        'model.encoders.visual.backbone.norm_cfg=None',
        'default_hooks.logger.interval=1',
    ]


def two_ranks_equal_one_process(config: str, tmp_path: Path,
                                options: Callable[[int], List[str]]) -> str:
    """Train ``config`` with 2 processes of 5 samples per step and with one
    of 10; assert that both ranks end with bit-identical parameters and
    that these equal the one process's (up to rounding).

    Args:
        config (str): The config file.
        tmp_path (Path): Where the runs write.
        options (Callable[[int], list[str]]): ``--cfg-options`` strings for
            a batch size.

    Returns:
        str: The two processes' output.
    """
    config = parameter_dump_config(tmp_path, config)
    two = tmp_path / 'two'
    result = train_tool(two, options(5), nproc=2, config=config)
    log = result.stdout + result.stderr
    assert 'Distributed training: True' in log
    ranks = [torch.load(two / f'rank{r}_parameters.pth') for r in (0, 1)]
    assert ranks[0].keys() == ranks[1].keys()
    for name, value in ranks[0].items():
        assert torch.equal(value, ranks[1][name]), name

    one = tmp_path / 'one'
    build_runner(config, one, options(10)).train()
    single = torch.load(osp.join(one, 'rank0_parameters.pth'))
    assert single.keys() == ranks[0].keys()
    for name, value in single.items():
        torch.testing.assert_close(ranks[0][name], value, msg=name)
    return log
