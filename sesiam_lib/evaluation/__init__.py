"""Benchmark evaluation (OTB, VOT, GOT-10k): metrics, plots and tables."""

from . import overlap
from .overlap import center_error, iou_xywh, poly_overlap, poly_overlaps
