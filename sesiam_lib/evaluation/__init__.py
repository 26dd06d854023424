"""Benchmark evaluation in pure Python: OTB, VOT (accuracy, robustness, EAO) and GOT-10k; plots and tables.

Modules, read top to bottom:

- :mod:`.overlap` -- IoU of boxes, centre error, VOT region overlap bounded by the image.
- :mod:`.results_io` -- reading/writing OTB, VOT and GOT-10k result files (coordinate conventions, time files
  and length rules documented; :func:`align_result` reads files the got10k toolkit wrote).
- :mod:`.otb` -- success / precision / normalised precision curves, :func:`evaluate_otb` (also UAV123, LaSOT with
  ``invalid_gt="lasot"``, NfS, TC128), attributes, speed as the got10k toolkit reports it, flat rows.
- :mod:`.vot` -- :func:`evaluate_vot`: accuracy, failures, robustness, EAO exactly as pysot / the VOT toolkit.
- :mod:`.got10k` -- :func:`evaluate_got10k`: AO, SR0.5, SR0.75.
- :mod:`.bootstrap` -- :func:`paired_bootstrap`: two-way (seeds x sequences) paired bootstrap interval of a
  difference; :func:`compare_paired`: a challenger vs a baseline over seeds, overall and per scale-change bin.
- :mod:`.scale_following` -- :func:`scale_following`: the target's apparent scale in the search crop, per frame.
- :mod:`.plots` -- success/precision plots, EAO curves and ranking, attribute bars (Agg-safe).
- :mod:`.tables` -- paper-layout tables (CSV, Markdown, LaTeX).

Plots are imported lazily (``from sesiam_lib.evaluation import plots``) so that importing the metrics never
imports matplotlib.
"""

from . import overlap
from .bootstrap import (
    BootstrapInterval,
    compare_paired,
    paired_bootstrap,
    paired_bootstrap_by_bin,
    paired_table,
    per_sequence_scores,
    scale_change_bins,
    write_paired_comparison,
)
from .got10k import evaluate_got10k, evaluate_got10k_boxes
from .otb import (
    DEFAULT_SCALE_BINS,
    CurveScores,
    OTBResult,
    evaluate_otb,
    evaluate_otb_boxes,
    normalized_precision_curve,
    otb_rows,
    otb_speed,
    precision_curve,
    rows_to_csv,
    success_curve,
    write_rows_csv,
)
from .overlap import center_error, iou_xywh, pixel_overlap, pixel_overlaps, poly_overlap, poly_overlaps, vot_overlaps
from .results_io import (
    ResultFileError,
    align_result,
    read_got10k_result,
    read_otb_result,
    read_vot_result,
    write_got10k_result,
    write_otb_result,
    write_vot_result,
)
from .scale_following import apparent_scales, scale_following, summarize_apparent_scales
from .tables import table_csv, table_latex, table_markdown, write_tables
from .vot import EAO_RANGES, evaluate_vot, evaluate_vot_trackers, evaluate_vot_trajectories

__all__ = [
    "overlap",
    "BootstrapInterval",
    "paired_bootstrap",
    "paired_bootstrap_by_bin",
    "scale_change_bins",
    "per_sequence_scores",
    "compare_paired",
    "paired_table",
    "write_paired_comparison",
    "iou_xywh",
    "center_error",
    "poly_overlap",
    "poly_overlaps",
    "pixel_overlap",
    "pixel_overlaps",
    "vot_overlaps",
    "success_curve",
    "precision_curve",
    "normalized_precision_curve",
    "CurveScores",
    "OTBResult",
    "DEFAULT_SCALE_BINS",
    "evaluate_otb",
    "evaluate_otb_boxes",
    "otb_speed",
    "align_result",
    "apparent_scales",
    "scale_following",
    "summarize_apparent_scales",
    "otb_rows",
    "rows_to_csv",
    "write_rows_csv",
    "EAO_RANGES",
    "evaluate_vot",
    "evaluate_vot_trackers",
    "evaluate_vot_trajectories",
    "evaluate_got10k",
    "evaluate_got10k_boxes",
    "ResultFileError",
    "read_otb_result",
    "read_got10k_result",
    "read_vot_result",
    "write_otb_result",
    "write_got10k_result",
    "write_vot_result",
    "table_csv",
    "table_markdown",
    "table_latex",
    "write_tables",
]


def __getattr__(name):  # lazy: ``sesiam_lib.evaluation.plots`` without importing matplotlib up front
    if name == "plots":
        import importlib

        return importlib.import_module(".plots", __name__)
    raise AttributeError(name)
