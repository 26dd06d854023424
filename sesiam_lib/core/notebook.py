"""Telling interactive notebook sessions from headless (papermill) runs, and showing image-heavy figures.

ipywidgets controls can block a headless nbclient/papermill execution (jupyter/nbclient#312), and their state is
not kept in executed notebooks anyway. Headless runs therefore skip them and keep the static figures. The
pipeline marks its kernels with ``SESIAM_HEADLESS=1``; set it yourself when running papermill by hand.
"""

from __future__ import annotations

import os

__all__ = ["HEADLESS_ENV", "is_headless", "show_figure"]

HEADLESS_ENV = "SESIAM_HEADLESS"


def is_headless() -> bool:
    """True when ``SESIAM_HEADLESS`` is set to a true value (``1``, ``true``, ``yes``)."""
    return os.environ.get(HEADLESS_ENV, "").strip().lower() in ("1", "true", "yes")


def show_figure(fig, path=None, *, dpi: int = 100, inline_quality: int = 85) -> bytes:
    """Save ``fig`` as a PNG at ``path`` (the full-quality file results link to), show a JPEG copy inline, close it.

    Figures of images and response maps (crops, heat maps) compress 5-6x better as JPEG than as PNG, and every
    inline image is stored in the executed notebook: a notebook with a dozen such figures would otherwise weigh
    megabytes. Line plots keep matplotlib's usual inline PNG (use ``plt.show()`` for them).

    Returns:
        the JPEG bytes shown.
    """
    import io

    import matplotlib.pyplot as plt
    from IPython.display import Image, display

    if path is not None:
        fig.savefig(path, dpi=dpi)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="jpeg", dpi=dpi, pil_kwargs={"quality": int(inline_quality)})
    plt.close(fig)
    display(Image(data=buffer.getvalue(), format="jpeg"))
    return buffer.getvalue()
