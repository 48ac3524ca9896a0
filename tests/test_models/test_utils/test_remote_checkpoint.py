"""Pretrained checkpoint addresses that have to be fetched: the URL mmengine
downloads, where torch's hub cache keeps it, and the message of a failed
fetch."""
import os.path as osp
from urllib.error import URLError

import pytest

from mmdr.models.utils import (CheckpointUnreachableError, explain_unreachable,
                               hub_cache_file, is_remote, resolve_url)

RESNET18_URL = 'https://download.pytorch.org/models/resnet18-f37072fd.pth'
KEYS = ('model.encoders.rgb.init_cfg.checkpoint',
        'model.encoders.rgb.init_cfg')


def test_addresses_resolve_to_the_url_mmengine_downloads():
    assert resolve_url(RESNET18_URL) == RESNET18_URL
    # Looked up in mmengine's tables, without torchvision installed too.
    assert resolve_url('torchvision://resnet18') == RESNET18_URL
    assert resolve_url('mmcls://resnet18').startswith(
        'https://download.openmmlab.com/mmclassification/')
    assert resolve_url('torchvision://no_such_model') is None
    assert resolve_url('s3://bucket/model.pth') is None
    assert is_remote('torchvision://resnet18') and is_remote(RESNET18_URL)
    assert not is_remote('checkpoints/resnet18.pth') and not is_remote(None)


def test_hub_cache_file_follows_torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    assert hub_cache_file(RESNET18_URL) == osp.join(
        str(tmp_path), 'hub', 'checkpoints', 'resnet18-f37072fd.pth')


def test_failed_fetch_is_one_message_with_the_ways_out(tmp_path, monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    with pytest.raises(CheckpointUnreachableError) as err:
        with explain_unreachable('model.encoders.rgb: FrameEncoder', *KEYS,
                                 'torchvision://resnet18'):
            raise URLError('[Errno -2] Name or service not known')
    assert err.value.address == 'torchvision://resnet18'
    assert err.value.__suppress_context__  # urllib's traceback left out
    assert str(err.value).splitlines() == [
        'model.encoders.rgb: FrameEncoder: its pretrained checkpoint '
        f'torchvision://resnet18 ({RESNET18_URL}) cannot be fetched '
        '(URLError: <urlopen error [Errno -2] Name or service not known>). '
        'Without a network:',
        f'  - download {RESNET18_URL} where there is one and point the '
        'config at the file: --cfg-options model.encoders.rgb.init_cfg.'
        'checkpoint=/path/to/resnet18-f37072fd.pth',
        f'  - or put the file at {tmp_path}/hub/checkpoints/'
        "resnet18-f37072fd.pth (torch's hub cache, $TORCH_HOME/hub/"
        'checkpoints): mmengine reads it from there without downloading, '
        'and the config stays as it is',
        '  - or train this encoder from scratch: --cfg-options '
        'model.encoders.rgb.init_cfg=None'
    ]


def test_what_is_not_a_failed_fetch_passes_unchanged():
    # A local file is mmdr's own existence check's, not a network problem.
    with pytest.raises(FileNotFoundError):
        with explain_unreachable('enc', *KEYS, 'resnet18.pth'):
            raise FileNotFoundError('resnet18.pth can not be found.')
    with pytest.raises(ValueError):
        with explain_unreachable('enc', *KEYS, RESNET18_URL):
            raise ValueError('a shape mismatch')


def test_torchvision_names_without_torchvision_skip_the_cache_advice():
    # mmengine imports torchvision to look the name up before it reads the
    # cache, so the cache cannot help.
    with pytest.raises(CheckpointUnreachableError) as err:
        with explain_unreachable('enc', *KEYS, 'torchvision://resnet18'):
            raise ModuleNotFoundError("No module named 'torchvision'")
    message = str(err.value)
    assert "(ModuleNotFoundError: No module named 'torchvision')" in message
    assert 'hub cache' not in message
    assert 'model.encoders.rgb.init_cfg=None' in message
