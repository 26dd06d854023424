"""Datasets: the synthetic T-MNIST / S-MNIST benchmark, OTB / VOT / GOT-10k loaders and training pairs.

- :func:`generate_synthetic`, :func:`synthetic_benchmark` -- write T-MNIST / S-MNIST in the GOT-10k layout.
- :func:`load_digits`, :func:`build_digit_set` -- the committed MNIST digit set behind it.
- :func:`load_otb`, :func:`load_vot`, :func:`load_got10k` -- benchmark loaders returning
  :class:`~sesiam_lib.core.sequence.Sequence` lists (0-based ``x, y, w, h`` boxes).
- :func:`load_uav123` (UAV123 / UAV20L), :func:`load_lasot`, :func:`load_trackingnet`, :func:`load_nfs`,
  :func:`load_tc128` -- the other one-pass benchmarks, each with its layout's quirks (module docstrings);
  :func:`write_trackingnet_submission` -- the TrackingNet server's zip.
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
from .lasot import LASOT_ATTRIBUTES, LASOT_TEST_SEQUENCES, load_lasot
from .nfs import load_nfs
from .tc128 import load_tc128
from .trackingnet import load_trackingnet, write_trackingnet_submission
from .uav123 import UAV20L_SEQUENCES, UAV123_SEQUENCES, load_uav123
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
    "load_uav123",
    "UAV123_SEQUENCES",
    "UAV20L_SEQUENCES",
    "load_lasot",
    "LASOT_TEST_SEQUENCES",
    "LASOT_ATTRIBUTES",
    "load_trackingnet",
    "write_trackingnet_submission",
    "load_nfs",
    "load_tc128",
    "PairDataset",
    "context_side",
    "search_side",
    "valid_frames",
]
