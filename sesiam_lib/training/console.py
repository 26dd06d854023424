"""Console output of a training run started from a plain script.

``python -m sesiam_lib.training`` configures logging, so its INFO lines (synthetic data being generated, the
run's setup, one line per epoch) reach the terminal; a script calling :func:`~sesiam_lib.training.train`
usually configures nothing, and those lines went only to ``train.log``: minutes of silence before the first
progress-bar step. :func:`console_logging` shows them on stderr for the duration of the run, through
``tqdm.write`` so that they do not break the progress bar, whenever the progress bar is shown
(``progress=true``, or ``"auto"`` on a terminal / in Jupyter) and nothing else already prints them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from typing import Any, Iterator

__all__ = ["console_logging", "progress_wanted", "has_console_handler"]

LOGGER = "sesiam_lib.training"


def progress_wanted(progress: Any) -> bool:
    """The ``progress`` setting resolved: ``"auto"`` is on when stderr is a terminal or in a Jupyter kernel."""
    if progress == "auto":
        isatty = getattr(sys.stderr, "isatty", None)
        return bool(isatty and isatty()) or "ipykernel" in sys.modules
    return bool(progress)


def has_console_handler(logger: logging.Logger, level: int = logging.INFO) -> bool:
    """Whether a record of ``level`` on ``logger`` reaches a console ``StreamHandler`` (not a file)."""
    node: logging.Logger | None = logger
    while node is not None:
        if any(isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)
               and h.level <= level for h in node.handlers):
            return True
        node = node.parent if node.propagate else None
    return False


class _TqdmHandler(logging.StreamHandler):
    """Writes through ``tqdm.write`` (clears and redraws an active bar)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            from tqdm import tqdm

            tqdm.write(self.format(record), file=self.stream)
        except Exception:  # pragma: no cover - logging must never raise
            self.handleError(record)


@contextlib.contextmanager
def console_logging(progress: Any = "auto") -> Iterator[None]:
    """Show ``sesiam_lib.training``'s INFO lines on stderr while the block runs (see the module docstring)."""
    logger = logging.getLogger(LOGGER)
    rank = os.environ.get("RANK", "0")
    if not progress_wanted(progress) or rank not in ("", "0") or has_console_handler(logger):
        yield
        return
    handler = _TqdmHandler(sys.stderr)
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S"))
    level = logger.level
    logger.addHandler(handler)
    if logger.level == logging.NOTSET or logger.level > logging.INFO:
        logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
