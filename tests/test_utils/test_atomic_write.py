import os

import pytest

from mmdr.utils.atomic_write import open_atomic, write_text_atomic


def test_open_atomic_replaces_only_when_complete(tmp_path):
    path = tmp_path / 'out.txt'
    path.write_text('old')
    with open_atomic(str(path)) as file:
        file.write('new')
        # Readers still see the old content until the block ends.
        assert path.read_text() == 'old'
    assert path.read_text() == 'new'
    assert os.listdir(tmp_path) == ['out.txt']


def test_open_atomic_failure_keeps_old_file_and_leaves_no_temp(tmp_path):
    path = tmp_path / 'out.bin'
    path.write_bytes(b'old')
    with pytest.raises(RuntimeError, match='half way'):
        with open_atomic(str(path), 'wb') as file:
            file.write(b'partial')
            raise RuntimeError('half way')
    assert path.read_bytes() == b'old'
    assert os.listdir(tmp_path) == ['out.bin']


def test_open_atomic_newline_and_bad_mode(tmp_path):
    path = tmp_path / 'rows.csv'
    with open_atomic(str(path), newline='') as file:
        file.write('a\r\nb\r\n')
    assert path.read_bytes() == b'a\r\nb\r\n'
    write_text_atomic(str(path), 'x\n')
    assert path.read_text() == 'x\n'
    with pytest.raises(ValueError, match="mode must be 'w' or 'wb'"):
        with open_atomic(str(path), 'a'):
            pass
