"""Tiny CREMA-D and Kinetics-Sounds inputs, and the tools run on them.

The inputs are written by :mod:`mmdr.testing.av_clips`, whose names are
imported here for the tests; :func:`prepare_cremad` and
:func:`prepare_kinetics_sounds` run the preparation tools as a subprocess.
"""
import os.path as osp
import subprocess
import sys
from typing import Sequence

from mmdr.testing.av_clips import (  # noqa: F401
    CREMAD_EMOTIONS, CREMAD_SENTENCES, CREMAD_TABLE_HEADER, CREMAD_VOTES,
    KS_CLASSES, KS_FPS, SIZE, cremad_clip_names, cremad_frame_count,
    cremad_seconds, kinetics_name, truncate_file, write_authors_splits,
    write_cremad_authors_tree, write_cremad_release, write_frames,
    write_garbage, write_kinetics_clips, write_media, write_ogm_ge_cremad_tree,
    write_ogm_ge_kinetics_tree, write_summary_table, write_wav16)

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def prepare_cremad(root: str, *extra: str) -> subprocess.CompletedProcess:
    """Run tools/data/cremad/prepare_cremad.py ``--root root *extra``."""
    cmd = [
        sys.executable,
        osp.join(REPO, 'tools/data/cremad/prepare_cremad.py'), '--root',
        str(root), *extra
    ]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)


def prepare_kinetics_sounds(videos: str, annotations: Sequence[str], out: str,
                            *extra: str) -> subprocess.CompletedProcess:
    """Run tools/data/kinetics_sounds/prepare_kinetics_sounds.py."""
    cmd = [
        sys.executable,
        osp.join(REPO,
                 'tools/data/kinetics_sounds/prepare_kinetics_sounds.py'),
        '--videos',
        str(videos), '--annotations', *map(str, annotations), '--out',
        str(out), *extra
    ]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
