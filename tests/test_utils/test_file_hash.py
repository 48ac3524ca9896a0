import hashlib

from mmdr.utils.file_hash import sha256_file


def test_sha256_of_a_file_larger_than_one_block(tmp_path):
    # 2.5 MiB: three blocks, the last one partial.
    data = bytes(range(256)) * (10 * 1024)
    path = tmp_path / 'data.bin'
    path.write_bytes(data)
    assert sha256_file(str(path)) == hashlib.sha256(data).hexdigest()
    empty = tmp_path / 'empty'
    empty.write_bytes(b'')
    assert sha256_file(str(empty)) == hashlib.sha256(b'').hexdigest()
