"""Telling interactive notebook sessions from headless (papermill) runs.

ipywidgets controls can block a headless nbclient/papermill execution (jupyter/nbclient#312), and their state is
not kept in executed notebooks anyway. Headless runs therefore skip them and keep the static figures. The
pipeline marks its kernels with ``SESIAM_HEADLESS=1``; set it yourself when running papermill by hand.
"""

from __future__ import annotations

import os

__all__ = ["HEADLESS_ENV", "is_headless"]

HEADLESS_ENV = "SESIAM_HEADLESS"


def is_headless() -> bool:
    """True when ``SESIAM_HEADLESS`` is set to a true value (``1``, ``true``, ``yes``)."""
    return os.environ.get(HEADLESS_ENV, "").strip().lower() in ("1", "true", "yes")
