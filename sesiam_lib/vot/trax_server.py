"""A TraX server around :class:`~sesiam_lib.tracking.SiamFCTracker` (or any ``init`` / ``update`` tracker).

Protocol (TraX, as the VOT toolkit speaks it): the client (the toolkit) starts this process, sends
``initialize(image, region)`` then ``frame(image)`` requests; the server answers every request with one region.
This server announces region formats ``rectangle`` and ``polygon`` and the image format ``path``; images are
read from disk with :func:`sesiam_lib.core.sequence.read_rgb` (the reader of :meth:`Sequence.image`, so pixels
are those :func:`sesiam_lib.tracking.run_vot` sees). An initialisation polygon (VOT ground truth) is passed to
``tracker.init`` as the 8 values ``x1, y1, ..., x4, y4``, an initialisation rectangle as ``x, y, w, h``, like
``run_vot``. The answer to an initialisation is the initialisation region itself; the answer to a frame is the
tracker's box as a TraX rectangle.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

__all__ = ["TRAX_INSTALL_HINT", "import_trax", "region_from_trax", "serve"]

TRAX_INSTALL_HINT = (
    "the VOT toolkit integration needs the TraX Python bindings (package 'vot-trax'): "
    "pip install 'sesiam_lib[vot]'  (or: pip install vot-trax)"
)


def import_trax():
    """The ``trax`` module, or an ``ImportError`` that says how to install it."""
    try:
        import trax  # noqa: F401
        import trax.server  # noqa: F401
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(f"{TRAX_INSTALL_HINT} ({e})") from e
    return trax


def region_from_trax(region) -> np.ndarray:
    """A TraX region as numbers: a rectangle -> ``(4,)`` ``x, y, w, h``; a polygon -> ``(2K,)`` ``x1, y1, ...``.

    Raises:
        ValueError: any other region type (special codes, masks).
    """
    trax = import_trax()
    kind = region.type
    if kind == trax.Region.RECTANGLE:
        return np.asarray(region.bounds(), dtype=np.float64)
    if kind == trax.Region.POLYGON:
        return np.asarray([c for i in range(region.size()) for c in region.get(i)], dtype=np.float64)
    raise ValueError(f"unsupported TraX region type {kind!r} (expected a rectangle or a polygon)")


def _image_path(images: dict) -> str:
    if not images:
        raise ValueError("TraX request without an image")
    image = images.get("color") or next(iter(images.values()))
    path = image.path() if hasattr(image, "path") else None
    if not path:
        raise ValueError("TraX image is not a file path (the server announces the 'path' image format only)")
    return path


def serve(tracker_or_factory: Any, *, log: bool | str = False, reader: Callable[[str], np.ndarray] | None = None,
          name: str = "sesiam_lib") -> int:
    """Serve one TraX session on stdin/stdout (or the socket the client gives in ``TRAX_SOCKET``).

    Args:
        tracker_or_factory: an object with ``init(image, region)`` / ``update(image) -> (x, y, w, h)``, or a
            callable returning one (built once, on the first initialisation).
        log: TraX logging: ``True`` (stderr) or a file name.
        reader: image reader (path -> RGB ``uint8 [H, W, 3]``); default
            :func:`sesiam_lib.core.sequence.read_rgb`.
        name: tracker name announced to the client.

    Returns:
        the number of frames answered (initialisations included).
    """
    trax = import_trax()
    from trax.server import Server

    if reader is None:
        from ..core.sequence import read_rgb as reader
    tracker = tracker_or_factory if _is_tracker(tracker_or_factory) else None
    answered = 0
    with Server([trax.Region.RECTANGLE, trax.Region.POLYGON], [trax.Image.PATH], tracker_name=name,
                log=log) as server:
        while True:
            request = server.wait()
            if request.type in (trax.TraxStatus.QUIT, trax.TraxStatus.ERROR):
                break
            image = reader(_image_path(request.image))
            if request.type == trax.TraxStatus.INITIALIZE:
                if not request.objects:
                    raise ValueError("TraX initialisation without a region")
                region, _props = request.objects[0]
                if tracker is None:
                    tracker = tracker_or_factory()
                tracker.init(image, region_from_trax(region))
                server.status([(region, {})])
            else:
                if tracker is None:
                    raise RuntimeError("TraX frame request before any initialisation")
                box = [float(v) for v in np.asarray(tracker.update(image), dtype=np.float64).ravel()[:4]]
                server.status([(trax.Rectangle.create(*box), {})])
            answered += 1
    return answered


def _is_tracker(obj) -> bool:
    return callable(getattr(obj, "init", None)) and callable(getattr(obj, "update", None))
