"""OTB one-pass evaluation (OPE): success, precision and normalised precision, per sequence and attribute.

Definitions (FACTS §7), cross-checked against the toolkits:

- Success curve: per sequence, the fraction of frames whose IoU with the ground truth is **greater than**
  ``t`` for ``t = 0, 0.05, ..., 1`` (21 thresholds). IoU on continuous ``x, y, w, h`` boxes (pysot
  ``toolkit/utils/statistics.py::overlap_ratio``, got10k-toolkit ``rect_iou``). The benchmark curve is the mean
  of the per-sequence curves; success AUC = mean of its 21 points (OTB ``perfPlot.m``, pysot
  ``OPEBenchmark.eval_success``, got10k ``ExperimentOTB``).
- Precision curve: fraction of frames with centre error **at most** ``t`` pixels, ``t = 0, 1, ..., 50``;
  centre = ``x + (w - 1) / 2``; score = value at 20 px.
- Normalised precision: the centre error after dividing each centre coordinate by the ground-truth width /
  height (pysot ``convert_bb_to_norm_center``; LaSOT), thresholds ``0, 0.01, ..., 0.50``; score at 0.20.
- Frame 1 counts as the ground truth: the prediction of frame 1 is replaced by the ground-truth box before
  scoring (OTB ``calcSeqErrRobust.m``: ``rectMat(1,:) = rect_anno(1,:)``; got10k ``boxes[0] = anno[0]``).

Invalid ground truth (a frame whose ground-truth box has a NaN/inf value, or ``w <= 0`` or ``h <= 0``; OTB
marks absent targets with 0-size or NaN boxes). Default ``invalid_gt="otb"``, the OTB toolkit's behaviour
(``calcSeqErrRobust.m``: ``errCoverage = -1``, ``errCenter = -1`` on such frames, curves divided by the full
sequence length):

- the frame stays in the denominator (every per-sequence curve is divided by the total number of frames);
- its IoU is taken as ``-1``: it is **never** a success on the success curve (``-1 > t`` is false for t >= 0);
- its centre error is taken as ``-1``: it is **always** a success on both precision curves
  (``-1 <= t`` is true). This asymmetry is the toolkits'; it is kept so that numbers match published ones.

``invalid_gt="exclude"`` instead drops such frames (and frames with ``seq.absent`` true) from numerator and
denominator of every curve (the GOT-10k style). ``invalid_gt="lasot"``: LaSOT's protocol, as pytracking
(``analysis/extract_results.py::calc_seq_err_robust`` with ``dataset='lasot'`` and the default
``exclude_invalid_frames=False``) and pysot (``OPEBenchmark`` with ``video.absent``) compute it: frames where the
target is absent (``seq.absent``, from LaSOT's ``full_occlusion.txt`` / ``out_of_view.txt``) or the ground truth
is invalid stay in the denominator and are **failures on all three curves** (IoU -1, centre errors +inf); they
are *not* excluded. (On a visible frame with a 0-size box the two differ: pytracking counts it a success on the
normalised curve only, pysot on the precision curves when the box centre is > 0; LaSOT has no such frame.)

The validity test is the same for all three curves here (finite, ``w > 0``, ``h > 0``). The toolkits differ:

- pysot ``success_overlap`` masks ``w > 0 and h > 0`` (NaN fails it) -- the same as ours; but pysot
  ``success_error`` (precision and normalised precision) masks on the **centre**: ``cx > 0 and cy > 0`` with
  ``cx = x + (w - 1) / 2`` on the file's 1-based values. So in pysot a 0-size box with a positive centre (e.g.
  ``10,10,0,0``) is scored like any box on the precision curves (its centre error is measured), where we count
  it a success; and a valid box whose centre is at or left/above of 1-based 0 (partly outside the image) is
  always a precision success in pysot, where we measure its error. NaN boxes agree (invalid in both).
- the MATLAB toolkit requires all four values ``> 0`` in 1-based coordinates (``x, y > 0`` too), which would
  reject valid boxes touching the left/top border, so that part is not followed;
- the got10k toolkit's ``ExperimentOTB`` has no validity test: a 0-size box gets IoU 0 (same as ours on the
  success curve) and its centre error is measured (not an automatic success).

Invalid predictions (NaN in a predicted box) are failures: IoU 0 and infinite centre error. (The MATLAB
toolkit tries to substitute the previous frame's box; pysot and got10k do not; we follow the python
toolkits.)

Attributes: OTB tags come from ``seq.attributes["tags"]`` (e.g. ``["SV", "OCC"]``); the attribute curve is the
mean of the per-sequence curves of the sequences carrying the tag (OTB ``perfPlot.m`` attribute plots). For the
synthetic benchmark a numeric ``seq.attributes["scale_change"]`` (largest/smallest box side over the sequence)
is binned with ``scale_bins`` (default edges ``1, 1.5, 2, 3, inf`` -> ``[1,1.5)``, ``[1.5,2)``, ``[2,3)``,
``[3,inf)``), each bin reported as an attribute named ``"scale_change[lo,hi)"``.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Sequence as _Seq

import numpy as np

from .overlap import iou_xywh
from .results_io import check_length, find_time_file, load_otb_results, read_times

__all__ = [
    "SUCCESS_THRESHOLDS",
    "PRECISION_THRESHOLDS",
    "NORM_PRECISION_THRESHOLDS",
    "DEFAULT_SCALE_BINS",
    "success_curve",
    "precision_curve",
    "normalized_precision_curve",
    "sequence_curves",
    "CurveScores",
    "OTBResult",
    "evaluate_otb",
    "evaluate_otb_boxes",
    "otb_speed",
    "otb_rows",
    "rows_to_csv",
    "write_rows_csv",
    "scale_bin_label",
]

SUCCESS_THRESHOLDS = np.linspace(0.0, 1.0, 21)  # 0, 0.05, ..., 1
PRECISION_THRESHOLDS = np.arange(0, 51, dtype=np.float64)  # 0 .. 50 px
NORM_PRECISION_THRESHOLDS = np.arange(0, 51, dtype=np.float64) / 100.0  # 0 .. 0.5
PRECISION_INDEX = 20  # 20 px
NORM_PRECISION_INDEX = 20  # 0.20
DEFAULT_SCALE_BINS = (1.0, 1.5, 2.0, 3.0, float("inf"))

_INVALID_MODES = ("otb", "exclude", "lasot")


def _box_rows(boxes, argname: str) -> np.ndarray:
    """``(N, 4)`` float64 from one box ``(4,)`` or ``(..., 4)``; any other width raises (a ``(6, 2)`` array must
    not be reshaped into 3 boxes)."""
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.ndim == 0 or arr.shape[-1] != 4:
        raise ValueError(f"{argname}: expected (N, 4) boxes (x, y, w, h), got shape {arr.shape}")
    return arr.reshape(-1, 4)


def _prepare(gt, pred, first_frame_gt: bool, absent=None,
             invalid_gt: str = "otb") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    gt = _box_rows(gt, "gt")
    pred = _box_rows(pred, "pred").copy()
    if len(gt) != len(pred):
        raise ValueError(f"ground truth has {len(gt)} frames but the prediction has {len(pred)}")
    if first_frame_gt and len(gt):
        pred[0] = gt[0]
    valid = np.isfinite(gt).all(1) & (gt[:, 2] > 0) & (gt[:, 3] > 0)
    if absent is not None and invalid_gt != "otb":  # the OTB toolkit knows no absence labels
        absent = np.asarray(absent, dtype=bool).reshape(-1)
        if len(absent) != len(gt):
            raise ValueError(f"absent has {len(absent)} frames but the ground truth has {len(gt)}")
        valid = valid & ~absent
    return gt, pred, valid


def _check_mode(invalid_gt: str) -> None:
    if invalid_gt not in _INVALID_MODES:
        raise ValueError(f"invalid_gt must be one of {_INVALID_MODES}, got {invalid_gt!r}")


def _curve(values: np.ndarray, valid: np.ndarray, thresholds: np.ndarray, greater: bool, invalid_value: float,
           invalid_gt: str) -> np.ndarray:
    if invalid_gt == "lasot":  # an invalid / absent frame is a failure on every curve
        invalid_value = -1.0 if greater else np.inf
    v = np.where(valid, values, invalid_value)
    if invalid_gt == "exclude":
        v = v[valid]
    n = len(v)
    if n == 0:
        return np.zeros(len(thresholds))
    hits = (v[:, None] > thresholds[None, :]) if greater else (v[:, None] <= thresholds[None, :])
    return hits.sum(0) / float(n)


def _ious(gt, pred, valid):
    iou = iou_xywh(gt, pred)
    return np.where(np.isnan(iou) & valid, 0.0, iou)  # NaN prediction -> failure


def _centre(b: np.ndarray) -> np.ndarray:
    return b[:, :2] + (b[:, 2:] - 1.0) / 2.0


def _center_errors(gt, pred, valid, normalized: bool):
    cg, cp = _centre(gt), _centre(pred)
    if normalized:
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(valid[:, None], gt[:, 2:], 1.0)
            cg, cp = cg / scale, cp / scale
    err = np.sqrt(((cg - cp) ** 2).sum(1))
    return np.where(np.isnan(err), np.inf, err)  # NaN prediction -> failure


def success_curve(gt, pred, *, first_frame_gt: bool = True, invalid_gt: str = "otb", absent=None) -> np.ndarray:
    """OTB success curve of one sequence: 21 values, fraction of frames with IoU > t, t = 0, 0.05, ..., 1.

    Args:
        gt, pred: ``(N, 4)`` 0-based ``x, y, w, h`` (ground truth, prediction).
        first_frame_gt: replace the prediction of frame 1 by the ground truth (OTB convention).
        invalid_gt: ``"otb"`` (default): frames with invalid ground truth (NaN, ``w <= 0`` or ``h <= 0``) stay in
            the denominator and never count as a success (IoU taken as -1, OTB toolkit / pysot);
            ``"exclude"``: they (and ``absent`` frames) are dropped; ``"lasot"``: they and ``absent`` frames are
            failures on every curve. See the module docstring.
        absent: optional ``bool (N,)``, target absent (``Sequence.absent``); ignored by ``"otb"``.
    """
    _check_mode(invalid_gt)
    gt, pred, valid = _prepare(gt, pred, first_frame_gt, absent, invalid_gt)
    return _curve(_ious(gt, pred, valid), valid, SUCCESS_THRESHOLDS, True, -1.0, invalid_gt)


def precision_curve(gt, pred, *, first_frame_gt: bool = True, invalid_gt: str = "otb", absent=None) -> np.ndarray:
    """OTB precision curve: 51 values, fraction of frames with centre error <= t px, t = 0..50.

    Centre = ``x + (w - 1) / 2``. Invalid ground truth (``invalid_gt="otb"``, default): the frame stays in the
    denominator and always counts as a success (centre error taken as -1, OTB toolkit / pysot);
    ``"exclude"``: dropped. NaN predictions are failures.
    """
    _check_mode(invalid_gt)
    gt, pred, valid = _prepare(gt, pred, first_frame_gt, absent, invalid_gt)
    return _curve(_center_errors(gt, pred, valid, False), valid, PRECISION_THRESHOLDS, False, -1.0, invalid_gt)


def normalized_precision_curve(gt, pred, *, first_frame_gt: bool = True, invalid_gt: str = "otb",
                               absent=None) -> np.ndarray:
    """Normalised precision curve: 51 values, thresholds 0, 0.01, ..., 0.5 (score at index 20 = 0.20).

    Both centres' x (y) are divided by the ground-truth width (height) before the distance is taken
    (pysot ``convert_bb_to_norm_center``). Invalid ground truth as in :func:`precision_curve`.
    """
    _check_mode(invalid_gt)
    gt, pred, valid = _prepare(gt, pred, first_frame_gt, absent, invalid_gt)
    return _curve(_center_errors(gt, pred, valid, True), valid, NORM_PRECISION_THRESHOLDS, False, -1.0, invalid_gt)


def sequence_curves(gt, pred, *, first_frame_gt: bool = True, invalid_gt: str = "otb", absent=None):
    """``(success, precision, normalized_precision)`` curves of one sequence, sharing one preparation."""
    _check_mode(invalid_gt)
    gt, pred, valid = _prepare(gt, pred, first_frame_gt, absent, invalid_gt)
    s = _curve(_ious(gt, pred, valid), valid, SUCCESS_THRESHOLDS, True, -1.0, invalid_gt)
    p = _curve(_center_errors(gt, pred, valid, False), valid, PRECISION_THRESHOLDS, False, -1.0, invalid_gt)
    n = _curve(_center_errors(gt, pred, valid, True), valid, NORM_PRECISION_THRESHOLDS, False, -1.0, invalid_gt)
    return s, p, n


@dataclass
class CurveScores:
    """Scores and curves of one group of sequences (all, one sequence, or one attribute).

    Attributes:
        success_auc: mean of the 21 points of ``success``.
        precision: ``precision_curve[20]`` (20 px).
        norm_precision: ``norm_precision_curve[20]`` (0.20).
        success, precision_curve, norm_precision_curve: the (sequence-averaged) curves, as lists.
        n_sequences: number of sequences averaged.
    """

    success_auc: float
    precision: float
    norm_precision: float
    success: list[float]
    precision_curve: list[float]
    norm_precision_curve: list[float]
    n_sequences: int

    @classmethod
    def from_curves(cls, s: np.ndarray, p: np.ndarray, n: np.ndarray) -> "CurveScores":
        """Average ``(K, 21)``, ``(K, 51)``, ``(K, 51)`` per-sequence curves into one record."""
        s, p, n = np.atleast_2d(s), np.atleast_2d(p), np.atleast_2d(n)
        ms, mp, mn = s.mean(0), p.mean(0), n.mean(0)
        return cls(
            success_auc=float(ms.mean()),
            precision=float(mp[PRECISION_INDEX]),
            norm_precision=float(mn[NORM_PRECISION_INDEX]),
            success=ms.tolist(),
            precision_curve=mp.tolist(),
            norm_precision_curve=mn.tolist(),
            n_sequences=int(s.shape[0]),
        )


@dataclass
class OTBResult:
    """What :func:`evaluate_otb` returns for one tracker.

    Attributes:
        tracker: tracker name (its results folder).
        overall: :class:`CurveScores` over all sequences (``overall.success_auc`` is the headline number).
        per_sequence: ``{sequence name: CurveScores}`` (``n_sequences`` = 1).
        per_attribute: ``{attribute: CurveScores}``: OTB tags (``"SV"``, ``"OCC"`` ...) and synthetic
            scale-change bins (``"scale_change[1,1.5)"`` ...); only attributes carried by at least one sequence.
    """

    tracker: str
    overall: CurveScores
    per_sequence: dict[str, CurveScores] = field(default_factory=dict)
    per_attribute: dict[str, CurveScores] = field(default_factory=dict)
    #: frames/s as the got10k toolkit's ``ExperimentOTB`` reports it (:func:`otb_speed`); ``None``: no times
    speed_fps: float | None = None
    per_sequence_fps: dict[str, float] = field(default_factory=dict)

    # shortcuts to the headline numbers
    @property
    def success_auc(self) -> float:
        return self.overall.success_auc

    @property
    def precision(self) -> float:
        return self.overall.precision

    @property
    def norm_precision(self) -> float:
        return self.overall.norm_precision

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict."""
        return asdict(self)


def scale_bin_label(lo: float, hi: float) -> str:
    """Attribute name of a scale-change bin ``[lo, hi)``, e.g. ``"scale_change[1.5,2)"``."""

    def f(v: float) -> str:
        return "inf" if np.isinf(v) else f"{v:g}"

    return f"scale_change[{f(lo)},{f(hi)})"


def _attribute_names(seq, scale_bins: _Seq[float]) -> list[str]:
    attrs = getattr(seq, "attributes", None) or {}
    names = [str(t) for t in attrs.get("tags", []) or []]
    sc = attrs.get("scale_change")
    if sc is not None:
        sc = float(sc)
        edges = list(scale_bins)
        for lo, hi in zip(edges[:-1], edges[1:]):
            if lo <= sc < hi:
                names.append(scale_bin_label(lo, hi))
                break
    return names


def evaluate_otb_boxes(
    predictions: dict[str, np.ndarray],
    sequences: Iterable,
    tracker: str = "tracker",
    *,
    scale_bins: _Seq[float] = DEFAULT_SCALE_BINS,
    invalid_gt: str = "otb",
) -> OTBResult:
    """Score in-memory predictions ``{sequence name: (N, 4) 0-based boxes}`` against ``sequences``.

    Every sequence must have a prediction with at least as many frames as its ground truth (extra frames are
    ignored). See :func:`evaluate_otb` for the result.
    """
    sequences = list(sequences)
    if not sequences:
        raise ValueError("evaluate_otb: no sequences given")
    curves_s, curves_p, curves_n = [], [], []
    per_seq: dict[str, CurveScores] = {}
    by_attr: dict[str, list[int]] = {}
    for k, seq in enumerate(sequences):
        gt = np.asarray(seq.boxes, dtype=np.float64)
        if seq.name not in predictions:
            raise KeyError(f"no prediction for sequence {seq.name!r}")
        pred = np.asarray(predictions[seq.name], dtype=np.float64).reshape(-1, 4)
        check_length(len(pred), len(gt), f"prediction of {seq.name}")
        s, p, n = sequence_curves(gt, pred[: len(gt)], invalid_gt=invalid_gt, absent=getattr(seq, "absent", None))
        curves_s.append(s)
        curves_p.append(p)
        curves_n.append(n)
        per_seq[seq.name] = CurveScores.from_curves(s, p, n)
        for a in _attribute_names(seq, scale_bins):
            by_attr.setdefault(a, []).append(k)
    S, P, N = np.stack(curves_s), np.stack(curves_p), np.stack(curves_n)
    per_attr = {a: CurveScores.from_curves(S[idx], P[idx], N[idx]) for a, idx in sorted(by_attr.items())}
    return OTBResult(tracker, CurveScores.from_curves(S, P, N), per_seq, per_attr)


def otb_speed(tracker_dir: str | os.PathLike, sequences: Iterable) -> tuple[float | None, dict[str, float]]:
    """Frames/s of a tracker's OTB-layout results, by the got10k toolkit's rule (``ExperimentOTB.report``).

    Per sequence: the times file (:func:`~sesiam_lib.evaluation.results_io.find_time_file`:
    ``times/<seq>_time.txt``, else ``<seq>_time.txt``), its values ``> 0`` kept, speed = ``mean(1 / t)``;
    overall = the mean over sequences that have a speed. Returns ``(overall or None, {seq: fps})``.
    """
    per_seq: dict[str, float] = {}
    for seq in sequences:
        path = find_time_file(tracker_dir, seq.name)
        if path is None:
            continue
        t = read_times(path)
        t = t[np.isfinite(t) & (t > 0)]
        if len(t):
            per_seq[seq.name] = float(np.mean(1.0 / t))
    return (float(np.mean(list(per_seq.values()))) if per_seq else None), per_seq


def evaluate_otb(
    results_dir: str | os.PathLike,
    sequences: Iterable,
    trackers: _Seq[str] | None = None,
    *,
    scale_bins: _Seq[float] = DEFAULT_SCALE_BINS,
    invalid_gt: str = "otb",
    align: str | None = None,
) -> dict[str, OTBResult]:
    """Evaluate OTB-format result files of one or more trackers.

    Args:
        results_dir: folder holding ``<tracker>/<seq>.txt`` files in OTB format (1-based ``x, y, w, h``; comma,
            tab or whitespace separated). Released results whose file names differ from ``seq.name`` only by
            case or by ``-``/``.``/``_`` (``Jogging-1`` vs ``Jogging.1``) are found too.
        sequences: :class:`sesiam_lib.core.sequence.Sequence` objects (0-based ``boxes``; ``attributes["tags"]``
            and/or ``attributes["scale_change"]`` for the attribute breakdown).
        trackers: tracker folder names; ``None`` = every sub-folder of ``results_dir`` (sorted).
        scale_bins: bin edges for ``attributes["scale_change"]``.
        invalid_gt: treatment of invalid ground-truth frames (module docstring); default = OTB toolkit;
            ``"lasot"`` for LaSOT (absent frames are failures).
        align: a result file must have exactly one line per frame (default); ``"got10k"``: files written by the
            got10k toolkit, one line per image of its frame list (Tiger1 from frame 1: lines 6.. are used);
            ``"truncate"``: longer files are cut (see :func:`~sesiam_lib.evaluation.results_io.align_result`).

    Returns:
        ``{tracker: OTBResult}`` in the order of ``trackers``; ``speed_fps`` / ``per_sequence_fps`` from the
        times files (:func:`otb_speed`), ``None`` / empty without them.

    Raises:
        FileNotFoundError: a tracker folder or a result file is missing (message names the expected path).
        ResultFileError: a result file is malformed, or shorter or longer than the sequence (names the file).
    """
    from pathlib import Path

    sequences = list(sequences)
    out = {}
    for name, preds in load_otb_results(results_dir, sequences, trackers, align=align).items():
        res = evaluate_otb_boxes(preds, sequences, name, scale_bins=scale_bins, invalid_gt=invalid_gt)
        res.speed_fps, res.per_sequence_fps = otb_speed(Path(results_dir) / name, sequences)
        out[name] = res
    return out


_ROW_FIELDS = ("tracker", "scope", "name", "success_auc", "precision", "norm_precision", "n_sequences")


def otb_rows(results: dict[str, OTBResult] | OTBResult, *, sequences: bool = True,
             attributes: bool = True) -> list[dict[str, Any]]:
    """Flatten :func:`evaluate_otb` output into rows (no pandas needed).

    Each row: ``tracker``, ``scope`` (``"overall"``, ``"attribute"`` or ``"sequence"``), ``name`` (``"all"``, the
    attribute or the sequence), ``success_auc``, ``precision``, ``norm_precision``, ``n_sequences``.
    """
    if isinstance(results, OTBResult):
        results = {results.tracker: results}
    rows: list[dict[str, Any]] = []

    def row(tracker, scope, name, c: CurveScores):
        rows.append(dict(tracker=tracker, scope=scope, name=name, success_auc=c.success_auc,
                         precision=c.precision, norm_precision=c.norm_precision, n_sequences=c.n_sequences))

    for tracker, r in results.items():
        row(tracker, "overall", "all", r.overall)
        if attributes:
            for a, c in r.per_attribute.items():
                row(tracker, "attribute", a, c)
        if sequences:
            for s, c in r.per_sequence.items():
                row(tracker, "sequence", s, c)
    return rows


def rows_to_csv(rows: list[dict[str, Any]], fields: _Seq[str] | None = None, digits: int = 4) -> str:
    """Rows (list of dicts) as CSV text; floats rounded to ``digits`` decimals."""
    if fields is None:
        fields = list(_ROW_FIELDS) if rows and set(_ROW_FIELDS) <= set(rows[0]) else (list(rows[0]) if rows else [])
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(fields)
    for r in rows:
        w.writerow([f"{r.get(f):.{digits}f}" if isinstance(r.get(f), float) else r.get(f, "") for f in fields])
    return buf.getvalue()


def write_rows_csv(path: str | os.PathLike, rows: list[dict[str, Any]], fields: _Seq[str] | None = None,
                   digits: int = 4) -> None:
    """Write :func:`rows_to_csv` text to ``path`` atomically."""
    from ..core.io import atomic_write_text

    atomic_write_text(path, rows_to_csv(rows, fields, digits))
