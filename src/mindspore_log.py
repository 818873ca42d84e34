"""Quieting MindSpore's own log where the project causes a message that is noise to its users."""
import contextlib
import logging


class _DropRecords(logging.Filter):
    def __init__(self, text):
        super().__init__()
        self.text = text

    def filter(self, record):
        return self.text not in record.getMessage()


@contextlib.contextmanager
def without_mindspore_log(text):
    """Drop MindSpore's log records containing `text` for the duration (every other record still shows)."""
    from mindspore import log
    logger = log._get_logger()  # MindSpore's logger has no public handle; it is a logging.Logger
    drop = _DropRecords(text)
    logger.addFilter(drop)
    try:
        yield
    finally:
        logger.removeFilter(drop)
