"""Edits of a config's data sets and loaders that the tools share."""
from typing import Iterator, List, Optional, Tuple

from mmengine.config import Config
from mmengine.logging import print_log

#: The config keys of the three loaders.
DATALOADER_KEYS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def _dataset_cfgs(cfg: Config) -> Iterator[Tuple[str, dict]]:
    """Every data set config of the loaders and of D&R's hook.

    Wrappers (``RepeatDataset``, ``ClassBalancedDataset``, ...) are followed
    through their ``dataset`` key; a ``ConcatDataset``'s ``datasets`` each.

    Yields:
        tuple[str, dict]: Where it is in the config, and the data set dict.
    """
    stack = [(f'{key}.dataset', (cfg.get(key) or {}).get('dataset'))
             for key in DATALOADER_KEYS]
    for index, hook in enumerate(cfg.get('custom_hooks') or []):
        for key in ('train_dataset', 'val_dataset'):
            if isinstance(hook, dict) and hook.get(key) is not None:
                stack.append((f'custom_hooks.{index}.{key}', hook[key]))
    while stack:
        where, dataset = stack.pop(0)
        if not isinstance(dataset, dict):
            continue
        if isinstance(dataset.get('dataset'), dict):
            stack.append((f'{where}.dataset', dataset['dataset']))
        elif isinstance(dataset.get('datasets'), (list, tuple)):
            stack += [(f'{where}.datasets.{i}', d)
                      for i, d in enumerate(dataset['datasets'])]
        else:
            yield where, dataset


def set_data_root(cfg: Config, data_root: str) -> List[str]:
    """Point every data set of a config at one folder.

    The ``data_root`` of the three loaders' data sets (through wrappers)
    and of ``DRHook``'s ``train_dataset``/``val_dataset`` where the config
    gives them: one option instead of one ``--cfg-options`` entry each
    (a config's top-level ``data_root`` variable is substituted when the
    file is read, so overriding it later changes nothing).

    Args:
        cfg (Config): The config, changed in place.
        data_root (str): The folder.

    Returns:
        list[str]: The config keys that were set.
    """
    changed = []
    for where, dataset in _dataset_cfgs(cfg):
        dataset['data_root'] = data_root
        changed.append(f'{where}.data_root')
    return changed


def drop_persistent_workers(cfg: Config) -> List[str]:
    """Drop ``persistent_workers=True`` from loaders without workers.

    PyTorch refuses persistent workers with ``num_workers=0``; a user who
    sets ``num_workers=0`` (to debug, or on a machine without shared
    memory) would otherwise need a second option per loader.

    Args:
        cfg (Config): The config, changed in place.

    Returns:
        list[str]: The loaders changed.
    """
    changed = []
    for key in DATALOADER_KEYS:
        loader = cfg.get(key)
        if (isinstance(loader, dict) and loader.get('num_workers', 0) == 0
                and loader.get('persistent_workers')):
            loader['persistent_workers'] = False
            changed.append(key)
    return changed


def apply_data_options(cfg: Config, data_root: Optional[str] = None) -> None:
    """What ``tools/train.py`` and ``tools/test.py`` do to a config's data.

    ``--data-root`` (:func:`set_data_root`), and
    :func:`drop_persistent_workers` with one log line per loader.

    Args:
        cfg (Config): The config, changed in place.
        data_root (str, optional): The data sets' folder; None keeps the
            config's. Defaults to None.
    """
    if data_root is not None:
        set_data_root(cfg, data_root)
    for loader in drop_persistent_workers(cfg):
        print_log(
            f'{loader}: num_workers=0, so persistent_workers=True is '
            'dropped (PyTorch allows it only with workers)',
            logger='current')
