"""sesiam_lib: Scale Equivariance Improves Siamese Tracking (SE-SiamFC), re-implemented.

Subpackages (one concept per module, read top to bottom):

- :mod:`sesiam_lib.sesn` -- scale-equivariant (SESN) layers, Hermite basis, equivariance error.
- :mod:`sesiam_lib.models` -- SiamFC+ and SE-SiamFC builders, checkpoints, weight transfer.
- :mod:`sesiam_lib.data` -- synthetic T/S-MNIST benchmark, OTB/VOT/GOT-10k loaders, training pairs.
- :mod:`sesiam_lib.tracking` -- the released SiamFC tracker and benchmark runners.
- :mod:`sesiam_lib.evaluation` -- OTB/VOT/GOT-10k metrics, plots and tables.
- :mod:`sesiam_lib.vot` -- TraX server: the tracker inside the VOT toolkit (``python -m sesiam_lib.vot``).
- :mod:`sesiam_lib.training` -- training recipe and presets.
- :mod:`sesiam_lib.pipeline` -- papermill pipeline over the notebooks.
- :mod:`sesiam_lib.core` -- the small shared core: boxes, crops, atomic file writes.
"""

__version__ = "0.2.0"
