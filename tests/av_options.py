"""--cfg-options that shrink the audio-visual clip configs for CPU
tests: 32 x 32 frames, half a second of audio (128 filterbank frames), no
loader workers, batches of 4."""
import os.path as osp

from conftest import REPO
from mmengine.config import Config

CROP = 32


def av_shrink_options(config: str) -> list:
    """--cfg-options that make an audio-visual config small for a CPU.

    Args:
        config (str): The config's file name under ``configs/``.

    Returns:
        list[str]: ``key=value`` options.
    """
    cfg = Config.fromfile(osp.join(REPO, 'configs', config))
    options = ['train_cfg.max_epochs=2']
    if 'vggsound' in config or 'balanced_av' in config:
        # Their classes are those of the annotations: 3 in the fixtures.
        options.append('model.cls_head.num_classes=3')
    for split in ('train', 'val', 'test'):
        loader = f'{split}_dataloader'
        options += [
            f'{loader}.num_workers=0', f'{loader}.persistent_workers=False',
            f'{loader}.batch_size=4'
        ]
        # Address every resize and audio step by its index in the pipeline.
        for b, step in enumerate(cfg[loader].dataset.pipeline):
            key = f'{loader}.dataset.pipeline.{b}'
            if step['type'] == 'LoadWaveform' and step.get('duration'):
                options.append(f'{key}.duration=0.5')
            elif step['type'] == 'KaldiFbank':
                options.append(f'{key}.target_length=128')
            for t, transform in enumerate(step.get('transforms', [])):
                if transform['type'] == 'Resize':
                    options.append(
                        f'{key}.transforms.{t}.scale=({CROP},{CROP})')
    if cfg.get('custom_hooks'):
        options += [
            'custom_hooks.0.interval=1', 'custom_hooks.0.begin=1',
            'custom_hooks.0.progress=False'
        ]
        if any(
                data_set in config
                for data_set in ('kinetics_sounds', 'vggsound',
                                 'balanced_av')):
            # The fixtures hold 3 of the classes, 1 validation clip each.
            options.append('custom_hooks.0.num_clusters=3')
    return options
