"""Pretrained checkpoints named by an address that has to be fetched.

mmengine's ``CheckpointLoader`` reads ``http(s)://`` addresses with torch's
``load_state_dict_from_url`` (``model_dir=None``): a file already at
``<torch.hub.get_dir()>/checkpoints/<file name of the URL>`` is read without
any download. ``torchvision://``, ``modelzoo://``, ``mmcls://`` and
``open-mmlab://`` names are first looked up in mmengine's tables of URLs.
Without a network the download fails deep inside urllib; this module turns
that into one message with the ways out.
"""
import os.path as osp
from contextlib import contextmanager
from http.client import HTTPException
from typing import Iterator, Optional
from urllib.parse import urlparse

import torch

#: What a failed fetch raises: urllib's URLError and socket errors are
#: OSErrors; a ``torchvision://`` name needs torchvision to be looked up.
FETCH_ERRORS = (OSError, HTTPException, ImportError)


class CheckpointUnreachableError(RuntimeError):
    """A pretrained checkpoint's address could not be fetched.

    Attributes:
        address (str): The address (set by :func:`explain_unreachable`).
    """

    address: Optional[str] = None


def is_remote(address) -> bool:
    """Whether a checkpoint address is fetched rather than read from disk.

    Args:
        address: An ``init_cfg`` checkpoint (any value).

    Returns:
        bool: True for strings with a scheme, e.g. ``https://...``,
        ``torchvision://resnet18``.
    """
    return isinstance(address, str) and '://' in address


def _url_table(scheme: str) -> dict:
    """mmengine's table of names to URLs for one scheme."""
    from mmengine.runner import checkpoint as mm_checkpoint
    if scheme in ('torchvision', 'modelzoo'):
        try:
            return mm_checkpoint.get_torchvision_models()
        except ImportError:
            # mmengine's own copy of torchvision 0.12's URLs needs no
            # torchvision.
            import mmengine
            from mmengine.fileio import load
            return load(
                osp.join(
                    osp.dirname(mmengine.__file__), 'hub',
                    'torchvision_0.12.json'))
    if scheme == 'mmcls':
        return mm_checkpoint.get_mmcls_models()
    if scheme in ('open-mmlab', 'openmmlab'):
        return mm_checkpoint.get_external_models()
    return {}


def resolve_url(address: str) -> Optional[str]:
    """The ``http(s)://`` URL that mmengine downloads for an address.

    Args:
        address (str): ``http(s)://...`` or a ``scheme://name`` that
            mmengine looks up (``torchvision``, ``modelzoo``, ``mmcls``,
            ``open-mmlab``).

    Returns:
        str, optional: The URL; None where the address names none.
    """
    if address.startswith(('http://', 'https://')):
        return address
    scheme, _, name = address.partition('://')
    try:
        url = _url_table(scheme).get(name)
    except Exception:  # noqa: B902 - a table mmengine cannot read: no URL
        return None
    return url if is_remote(url) and url.startswith('http') else None


def hub_cache_file(url: str) -> str:
    """Where torch's hub cache keeps the download of a URL.

    Args:
        url (str): An ``http(s)://`` URL.

    Returns:
        str: ``<torch.hub.get_dir()>/checkpoints/<file name>``
        (``$TORCH_HOME/hub``, by default ``~/.cache/torch/hub``).
    """
    name = osp.basename(urlparse(url).path)
    return osp.join(torch.hub.get_dir(), 'checkpoints', name)


def unreachable_message(owner: str, checkpoint_key: str, scratch_key: str,
                        address: str, error: BaseException) -> str:
    """The message of a pretrained checkpoint that could not be fetched.

    Args:
        owner (str): Who loads it, e.g. ``'model.encoders.rgb:
            FrameEncoder (ResNet backbone)'``.
        checkpoint_key (str): The config key that holds the address, e.g.
            ``'model.encoders.rgb.init_cfg.checkpoint'``.
        scratch_key (str): The config key whose None trains from scratch,
            e.g. ``'model.encoders.rgb.init_cfg'``.
        address (str): The address.
        error (BaseException): What the fetch raised.

    Returns:
        str: Several lines: the address, the cause, and how to load the
        file from disk or to train from scratch.
    """
    url = resolve_url(address)
    name = osp.basename(urlparse(url).path) if url else 'file.pth'
    fetched = address if url in (None, address) else f'{address} ({url})'
    lines = [
        f'{owner}: its pretrained checkpoint {fetched} cannot be fetched '
        f'({type(error).__name__}: {error}). Without a network:',
        f'  - download {url or "it"} where there is one and point the '
        'config at the file: --cfg-options '
        f'{checkpoint_key}=/path/to/{name}'
    ]
    # A torchvision:// name is looked up with torchvision before the cache
    # is read, so without torchvision the cache does not help.
    if url is not None and not isinstance(error, ImportError):
        lines.append(
            f'  - or put the file at {hub_cache_file(url)} (torch\'s hub '
            'cache, $TORCH_HOME/hub/checkpoints): mmengine reads it from '
            'there without downloading, and the config stays as it is')
    lines.append('  - or train this encoder from scratch: --cfg-options '
                 f'{scratch_key}=None')
    return '\n'.join(lines)


@contextmanager
def explain_unreachable(owner: str, checkpoint_key: str, scratch_key: str,
                        address: Optional[str]) -> Iterator[None]:
    """Turn a failed fetch of ``address`` into one clear message.

    Errors of local files, and every other error, pass unchanged.

    Args:
        owner (str): Who loads it.
        checkpoint_key (str): The config key that holds the address.
        scratch_key (str): The config key whose None trains from scratch.
        address (str, optional): The checkpoint being loaded.

    Raises:
        CheckpointUnreachableError: The fetch of a remote address failed;
            the original error is in the message (its traceback is left
            out: it shows urllib's insides, not the cause).
    """
    try:
        yield
    except FETCH_ERRORS as err:
        if not is_remote(address):
            raise
        error = CheckpointUnreachableError(
            unreachable_message(owner, checkpoint_key, scratch_key, address,
                                err))
        error.address = address
        raise error from None
