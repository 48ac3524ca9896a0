"""What mmengine's current logger emits, for tests that read log lines."""
import logging
from contextlib import contextmanager
from typing import Iterator, List

from mmengine.logging import MMLogger


@contextmanager
def captured_log() -> Iterator[List[logging.LogRecord]]:
    """Collect the records of mmengine's current logger inside the block.

    Yields:
        list[logging.LogRecord]: Filled while the block runs.
    """
    logger = MMLogger.get_current_instance()
    records = []
    handler = logging.Handler(level=logging.DEBUG)
    handler.emit = records.append
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)
