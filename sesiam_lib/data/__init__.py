"""Datasets: the synthetic T-MNIST / S-MNIST benchmark, OTB / VOT / GOT-10k loaders and training pairs.

- :func:`generate_synthetic`, :func:`synthetic_benchmark` -- write T-MNIST / S-MNIST in the GOT-10k layout.
- :func:`load_digits`, :func:`build_digit_set` -- the committed MNIST digit set behind it.
- :func:`load_otb`, :func:`load_vot`, :func:`load_got10k` -- benchmark loaders returning
  :class:`~sesiam_lib.core.sequence.Sequence` lists (0-based ``x, y, w, h`` boxes).
- :class:`PairDataset` -- SiamFC training pairs (template, search, label, shift) from any of them.

Malformed input raises :class:`AnnotationError` (a ``ValueError``) naming the file and line.
"""

from ._parse import AnnotationError
from .digits import build_digit_set, load_digits, read_idx
from .got10k import load_got10k, load_got10k_sequence
from .otb import OTB_ATTRIBUTES, load_otb, otb_names
from .pairs import PairDataset, context_side, search_side, valid_frames
from .synthetic import (
    DEFAULT_COUNTS,
    KINDS,
    PROTOCOL_VERSION,
    generate_synthetic,
    scale_statistics,
    synthetic_benchmark,
)
from .vot import load_vot, load_vot_sequence

__all__ = [
    "AnnotationError",
    "build_digit_set",
    "load_digits",
    "read_idx",
    "generate_synthetic",
    "synthetic_benchmark",
    "scale_statistics",
    "PROTOCOL_VERSION",
    "KINDS",
    "DEFAULT_COUNTS",
    "load_otb",
    "otb_names",
    "OTB_ATTRIBUTES",
    "load_vot",
    "load_vot_sequence",
    "load_got10k",
    "load_got10k_sequence",
    "PairDataset",
    "context_side",
    "search_side",
    "valid_frames",
]
