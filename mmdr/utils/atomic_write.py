"""Write a file so that it appears only once it is complete."""
import contextlib
import os
import os.path as osp
import uuid
from typing import IO, Iterator, Optional


@contextlib.contextmanager
def open_atomic(path: str,
                mode: str = 'w',
                newline: Optional[str] = None) -> Iterator[IO]:
    """Open a file for writing that appears under its name only once complete.

    The content goes to a uniquely named file in the same folder, renamed
    to ``path`` on success (``os.replace`` is atomic within a file system)
    and removed on failure, so that readers and concurrent writers (data
    loader workers, ranks, an interrupted run) never see a partial file.

    Args:
        path (str): The file to write (replaced if it exists).
        mode (str): ``'w'`` for text or ``'wb'`` for bytes.
            Defaults to ``'w'``.
        newline (str, optional): Passed to :func:`open` in text mode, e.g.
            ``''`` for the csv module. Defaults to None.

    Yields:
        IO: The temporary file, open for writing.
    """
    if mode not in ('w', 'wb'):
        raise ValueError(f"open_atomic: mode must be 'w' or 'wb', got "
                         f'{mode!r}')
    tmp = osp.join(
        osp.dirname(osp.abspath(path)),
        f'.{osp.basename(path)}.{os.getpid()}.{uuid.uuid4().hex}.tmp')
    # os.open applies the umask, as creating the file directly would.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        if mode == 'wb':
            file = os.fdopen(fd, mode)
        else:
            file = os.fdopen(fd, mode, encoding='utf-8', newline=newline)
        with file:
            yield file
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def write_text_atomic(path: str, text: str) -> None:
    """Write ``text`` to ``path`` atomically (see :func:`open_atomic`).

    Args:
        path (str): The file to write (replaced if it exists).
        text (str): Its whole content.
    """
    with open_atomic(path) as file:
        file.write(text)
