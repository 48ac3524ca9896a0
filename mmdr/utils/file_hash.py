import hashlib


def sha256_file(path: str) -> str:
    """The hex SHA-256 of a file, read in blocks of 1 MiB.

    Args:
        path (str): The file.

    Returns:
        str: 64 hexadecimal digits.
    """
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()
