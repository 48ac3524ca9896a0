"""--cfg-options that shrink the UCF-101 configs for CPU tests, and the
pretrained checkpoints they point the encoders at."""
import os.path as osp

import torch
from conftest import REPO
from mmengine.config import Config
from pretrained_checkpoint import (torchvision_resnet_state_dict,
                                   write_mmaction_checkpoint)

NUM_CLASSES = 3
SHORT_SIDE, CROP = 36, 32


def shrink_options(config: str) -> list:
    """--cfg-options that make a UCF-101 config small enough for a CPU."""
    cfg = Config.fromfile(osp.join(REPO, 'configs', config))
    options = [
        f'model.cls_head.num_classes={NUM_CLASSES}',
        'train_cfg.max_epochs=2',
    ]
    for split in ('train', 'val', 'test'):
        loader = f'{split}_dataloader'
        options += [
            f'{loader}.num_workers=0', f'{loader}.persistent_workers=False'
        ]
        if split != 'test':
            options.append(f'{loader}.batch_size=4')
        # Address every resize and crop by its index in the pipelines.
        for b, step in enumerate(cfg[loader].dataset.pipeline):
            for t, transform in enumerate(step.get('transforms', [])):
                key = f'{loader}.dataset.pipeline.{b}.transforms.{t}'
                kind = transform['type']
                if kind == 'Resize' and transform['scale'][0] == -1:
                    options.append(f'{key}.scale=(-1,{SHORT_SIDE})')
                elif kind == 'Resize':
                    options.append(f'{key}.scale=({CROP},{CROP})')
                elif kind == 'MultiScaleCrop':
                    options.append(f'{key}.input_size={CROP}')
                elif kind == 'CenterCrop':
                    options.append(f'{key}.crop_size={CROP}')
                elif kind == 'ThreeCrop':  # covers the short side
                    options.append(f'{key}.crop_size={SHORT_SIDE}')
    if cfg.get('custom_hooks'):
        options += [
            'custom_hooks.0.interval=1', 'custom_hooks.0.begin=1',
            'custom_hooks.0.progress=False'
        ]
    return options


def write_pretrained_checkpoints(folder) -> dict:
    """An ImageNet ResNet-18 as torchvision saves it, and an mmaction2
    recogniser checkpoint (ResNet-18 backbone for the R50 configs, shrunk
    with --cfg-options).

    Args:
        folder (Path): Where to write them.

    Returns:
        dict: ``torchvision`` and ``mmaction`` paths.
    """
    torchvision = folder / 'resnet18-f37072fd.pth'
    torch.save(torchvision_resnet_state_dict(18), torchvision)
    mmaction = folder / 'tsn_r18_k400.pth'
    write_mmaction_checkpoint(mmaction)
    return dict(torchvision=str(torchvision), mmaction=str(mmaction))


def checkpoint_options(config: str, checkpoints: dict) -> list:
    if 'r50' in config:
        return [
            f'model.encoders.{m}.{k}' for m in ('rgb', 'flow')
            for k in ('backbone.depth=18', 'feat_dim=512',
                      f'init_cfg.checkpoint={checkpoints["mmaction"]}')
        ]
    return [
        f'model.encoders.{m}.init_cfg.checkpoint={checkpoints["torchvision"]}'
        for m in ('rgb', 'flow')
    ]
