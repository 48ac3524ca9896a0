"""Write clips in the prepared layout of CREMA-D and Kinetics-Sounds.

``visual/<clip>/frame_00001.jpg ...`` (JPEG) and ``audio/<clip>.wav``
(16-bit PCM), as ``tools/data/cremad`` and ``tools/data/kinetics_sounds``
write them, without running the tools: for the data sets' own tests.
"""
import os
import os.path as osp
from typing import Dict

import cv2
import numpy as np
import soundfile


def write_prepared_clips(root: str,
                         clips: Dict[str, int],
                         sample_rate: int = 22050,
                         seconds: float = 2.5,
                         size: tuple = (48, 64)) -> None:
    """Write every clip's frames and waveform.

    Args:
        root (str): The data set's folder.
        clips (dict[str, int]): Clip name to number of frames.
        sample_rate (int): The waveforms' rate.
        seconds (float): The waveforms' length.
        size (tuple): Frame height and width.
    """
    os.makedirs(osp.join(root, 'audio'), exist_ok=True)
    for index, (clip, num_frames) in enumerate(sorted(clips.items())):
        rng = np.random.default_rng(index)
        frame_dir = osp.join(root, 'visual', clip)
        os.makedirs(frame_dir, exist_ok=True)
        for k in range(1, num_frames + 1):
            image = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
            assert cv2.imwrite(
                osp.join(frame_dir, f'frame_{k:05d}.jpg'), image)
        t = np.arange(int(sample_rate * seconds)) / sample_rate
        wave = 0.3 * np.sin(2 * np.pi * (200 + 50 * index) * t)
        wave += 0.05 * rng.standard_normal(t.size)
        soundfile.write(
            osp.join(root, 'audio', f'{clip}.wav'),
            wave,
            sample_rate,
            subtype='PCM_16')
