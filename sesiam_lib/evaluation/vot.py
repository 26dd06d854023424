"""VOT2016/VOT2017 baseline evaluation in pure Python: accuracy, failures, robustness and EAO.

Result files: ``<tracker_results_dir>/baseline/<seq>/<seq>_NNN.txt`` (runs ``_001``, ``_002`` ...), lines ``1``
(initialisation), ``2`` (failure), ``0`` (skipped frame) or a region (4 values ``x, y, w, h`` or an 8-value
polygon), in the coordinate frame of the sequence's ``groundtruth.txt`` (no shift; see
:mod:`sesiam_lib.evaluation.results_io`). Per-frame overlaps: :func:`sesiam_lib.evaluation.overlap.vot_overlaps`
(ground-truth polygon vs predicted region, both clipped to the image ``[0, W] x [0, H]``, NaN on code frames).

The measures follow pysot's ``toolkit/evaluation/{ar,eao}_benchmark.py`` and ``toolkit/utils/statistics.py``,
the python port of the VOT toolkit's ``estimate_accuracy`` / ``estimate_failures`` /
``estimate_expected_overlap``:

- **accuracy**: overlaps with the ``burnin = 10`` frames starting at every initialisation (the ``1`` frame and
  the 9 after it) masked out; per sequence, the frame-wise mean over runs (NaN-aware); then the NaN-aware mean
  over all frames of all sequences pooled (frame-weighted, pysot ``AccuracyRobustnessBenchmark.show_result``).
- **failures**: number of ``2`` codes, averaged over the runs of a sequence, summed over sequences (the
  "lost number" of pysot; VOT's raw robustness).
- **robustness**: ``100 * failures / total frames`` (failures per 100 frames; pysot's "Robustness" column and
  the R reported by SiamRPN-family papers).
- **EAO**: every run of every sequence is cut into fragments at its failures. With ``skipping = 5`` (the
  re-initialisation delay) the cut points are ``0`` and ``f + 5`` for every failure frame ``f`` with
  ``f + 5 <= N``. A fragment that ends in a failure covers frames ``[p_i, p_{i+1}]`` (inclusive: its own init
  frame through the next init frame), its code frames count as overlap 0, and it is **zero-padded to the
  length of the longest sequence**: a failed fragment keeps contributing zeros at every N. The last fragment
  of a run (and a run without failure) covers ``[p_last, N)`` and is **not padded**: it contributes to
  ``Phi(N)`` only for N up to its own length. (A failure within the last 5 frames of a sequence is therefore
  not a cut point: it stays inside the unpadded last fragment, as in pysot.)
  ``Phi(1) = 1``; for ``N >= 2``, ``Phi(N)`` = mean, over the fragments at least N frames long (padded ones
  always), of the mean overlap on fragment frames ``2..N`` (1-based; the initialisation frame is excluded).
  All fragments have weight 1 (pysot's per-fragment weight for the "all" tag is 1 up to 1e-16).
  ``EAO`` = mean of ``Phi(N)`` over ``N in [low, high]`` (VOT2016 ``[108, 371]``, VOT2017 ``[100, 356]``,
  pysot's values; ``Phi`` beyond the longest sequence does not exist and is left out).

Differences from pysot, all in degenerate cases or sub-pixel: (1) by default overlaps are computed on continuous
geometry; pysot and the VOT MATLAB toolkit count pixels, which ``overlap="pixels"`` reproduces exactly (see
:func:`evaluate_vot`; the gap is largest on small targets); (2) pysot bounds the image by ``(W-1, H-1)`` for EAO (as
the MATLAB toolkit, for both) but ``(W, H)`` for accuracy; we use ``[0, W] x [0, H]`` for both (as the got10k
toolkit's ``poly_iou``), or the pixels ``0..W-1 x 0..H-1`` for both with ``overlap="pixels"``; (3) a NaN overlap
inside a fragment without failures is taken as 0 (pysot would make ``Phi`` NaN from that point on).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence as _Seq

import numpy as np

from .overlap import OVERLAP_MODES, vot_overlaps
from .results_io import (
    ResultFileError,
    VotTrajectory,
    check_length,
    image_size,
    read_vot_groundtruth,
    read_vot_trajectory,
    vot_run_files,
)

__all__ = [
    "EAO_RANGES",
    "BURNIN",
    "SKIPPING",
    "VotGroundTruth",
    "load_vot_groundtruth",
    "is_code",
    "failure_frames",
    "accuracy_overlaps",
    "eao_fragments",
    "expected_overlap_curve",
    "eao_from_curve",
    "evaluate_vot_trajectories",
    "evaluate_vot",
    "evaluate_vot_trackers",
]

EAO_RANGES: dict[str, tuple[int, int]] = {
    "VOT2016": (108, 371),
    "VOT2017": (100, 356),
    "VOT2018": (100, 356),
    "VOT2019": (46, 291),
}
BURNIN = 10
SKIPPING = 5


@dataclass
class VotGroundTruth:
    """Ground truth of one VOT sequence: ``regions`` ``(N, 8)`` polygons or ``(N, 4)`` boxes, ``bounds`` (W, H)."""

    name: str
    regions: np.ndarray
    bounds: tuple[int, int] | None

    def __len__(self) -> int:
        return len(self.regions)



def _read_list(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ResultFileError(f"{path}: sequence list is not UTF-8 text (undecodable byte at {exc.start})") from None


def _first_image(seq_dir: Path) -> Path | None:
    for d in (seq_dir / "color", seq_dir):
        if d.is_dir():
            imgs = sorted(p for p in d.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".bmp"))
            if imgs:
                return imgs[0]
    return None


def load_vot_groundtruth(dataset: str | os.PathLike | Iterable) -> list[VotGroundTruth]:
    """Ground truth from a VOT folder or from :class:`~sesiam_lib.core.sequence.Sequence` objects.

    Folder layout: ``list.txt`` (sequence names; without it, every sub-folder holding a ``groundtruth.txt``),
    ``<seq>/groundtruth.txt`` (comma separated 8-value polygons or 4-value boxes), images in ``<seq>/color/`` or
    ``<seq>/``; the image size is read from the first image's header.

    Sequences: ``seq.polygons`` when present, else ``seq.boxes``; the size comes from
    ``seq.attributes["image_size"]`` (``(W, H)``) when given, else from the first frame's header.
    When no image can be found the overlaps are unbounded (with a warning).
    """
    out: list[VotGroundTruth] = []
    if isinstance(dataset, (str, os.PathLike)):
        root = Path(dataset)
        if not root.is_dir():
            raise FileNotFoundError(f"VOT dataset folder not found: {root}")
        lst = root / "list.txt"
        if lst.is_file():
            names = [ln.strip() for ln in _read_list(lst).splitlines() if ln.strip()]
        else:
            names = sorted(p.name for p in root.iterdir() if (p / "groundtruth.txt").is_file())
        for name in names:
            gt = read_vot_groundtruth(root / name / "groundtruth.txt")
            img = _first_image(root / name)
            if img is None:
                warnings.warn(f"no image found in {root / name}: VOT overlaps of {name} are not image-bounded")
                bounds = None
            else:
                bounds = image_size(img)
            out.append(VotGroundTruth(name, gt, bounds))
        return out
    for seq in dataset:
        regions = seq.polygons if getattr(seq, "polygons", None) is not None else seq.boxes
        attrs = getattr(seq, "attributes", None) or {}
        bounds = attrs.get("image_size")
        if bounds is None and seq.frames and Path(seq.frames[0]).is_file():
            bounds = image_size(seq.frames[0])
        if bounds is None:
            warnings.warn(f"no image size for sequence {seq.name}: VOT overlaps are not image-bounded")
        else:
            bounds = (int(bounds[0]), int(bounds[1]))
        out.append(VotGroundTruth(seq.name, np.asarray(regions, dtype=np.float64), bounds))
    return out


def is_code(region, code: int | None = None) -> bool:
    """True for a VOT special code line (1 value), optionally a given one (0 skip, 1 init, 2 failure)."""
    r = np.asarray(region).ravel()
    return r.size == 1 and (code is None or r[0] == code)


def failure_frames(trajectory) -> list[int]:
    """0-based indices of the failure (``2``) frames of a trajectory (pysot ``calculate_failures``)."""
    codes = VotTrajectory.from_regions(trajectory).codes()
    return np.flatnonzero(codes == 2.0).tolist()


def accuracy_overlaps(overlaps: np.ndarray, trajectory, burnin: int = BURNIN) -> np.ndarray:
    """Overlaps with the ``burnin`` frames starting at every initialisation (``1``) frame set to NaN
    (pysot ``calculate_accuracy(..., burnin=10)``)."""
    out = np.array(overlaps, dtype=np.float64, copy=True)
    if burnin > 0:
        n = len(out)
        codes = VotTrajectory.from_regions(trajectory).codes()[:n]
        for i in np.flatnonzero(codes == 1.0):
            out[i : i + burnin] = np.nan
    return out


def eao_fragments(
    runs: _Seq[tuple[np.ndarray, _Seq[int]]], skipping: int = SKIPPING, max_len: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Cut runs into EAO fragments (pysot ``EAOBenchmark._calculate_eao``).

    Args:
        runs: ``(overlaps, failures)`` per run: per-frame overlaps (NaN on code frames) and the 0-based failure
            frame indices.
        skipping: re-initialisation delay after a failure (VOT: 5).
        max_len: width of the fragment matrix (default: the longest run).

    Returns:
        ``fragments`` ``(F, max_len)``: a row per fragment, NaN where the fragment does not exist (past the end of
        an unfailed fragment); code frames are 0; failed fragments are zero-padded to ``max_len``.
        ``lengths`` ``(F,)``: number of existing frames per row (``max_len`` for failed fragments).
    """
    if max_len is None:
        max_len = max((len(o) for o, _ in runs), default=0)
    rows: list[np.ndarray] = []
    lengths: list[int] = []
    for overlaps, failures in runs:
        ov = np.nan_to_num(np.asarray(overlaps, dtype=np.float64), nan=0.0)
        n = len(ov)
        points = [0] + [f + skipping for f in failures if f + skipping <= n]
        for i, start in enumerate(points):
            row = np.full(max_len, np.nan)
            if i < len(points) - 1:
                frag = ov[start : points[i + 1] + 1]
                row[:] = 0.0
                row[: len(frag)] = frag[:max_len]
                lengths.append(max_len)
            else:
                frag = ov[start:][:max_len]
                row[: len(frag)] = frag
                lengths.append(len(frag))
            rows.append(row)
    if not rows:
        return np.zeros((0, max_len)), np.zeros(0, dtype=np.int64)
    return np.stack(rows), np.asarray(lengths, dtype=np.int64)


def expected_overlap_curve(fragments: np.ndarray, lengths: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """``Phi`` (length ``max_len``): ``Phi[0] = 1``; ``Phi[i]`` = weighted mean over fragments with
    ``length > i`` of the mean of fragment columns ``1..i`` (pysot ``calculate_expected_overlap``).

    ``Phi[i]`` is the expected overlap of a sequence of ``N = i + 1`` frames. Where no fragment is long enough
    the value stays 0, as in pysot.
    """
    F, L = fragments.shape
    phi = np.zeros(L)
    if L == 0:
        return phi
    phi[0] = 1.0
    if F == 0 or L == 1:
        return phi
    w = np.ones(F) if weights is None else np.asarray(weights, dtype=np.float64)
    vals = np.nan_to_num(fragments[:, 1:], nan=0.0)
    csum = np.cumsum(vals, axis=1)  # csum[:, i-1] = sum of columns 1..i
    i = np.arange(1, L)
    mask = lengths[:, None] > i[None, :]  # (F, L-1)
    means = csum / i[None, :]
    wm = w[:, None] * mask
    num = (wm * means).sum(0)
    den = wm.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        phi[1:] = np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)
    return phi


def eao_from_curve(curve: np.ndarray, low: int, high: int) -> float:
    """Mean of ``curve`` over sequence lengths ``N = low..high`` (indices ``low-1..high-1``) that exist."""
    curve = np.asarray(curve, dtype=np.float64)
    weight = np.zeros(len(curve))
    weight[low - 1 : high] = 1.0
    valid = ~np.isnan(curve)
    den = weight[valid].sum()
    return float((curve[valid] * weight[valid]).sum() / den) if den > 0 else float("nan")


def evaluate_vot_trajectories(
    trajectories: dict[str, _Seq],
    groundtruth: _Seq[VotGroundTruth],
    version: str | None = "VOT2016",
    *,
    eao_range: tuple[int, int] | None = None,
    burnin: int = BURNIN,
    skipping: int = SKIPPING,
    source: dict[str, _Seq[str]] | None = None,
    overlap: str = "continuous",
) -> dict[str, Any]:
    """VOT measures for in-memory trajectories ``{sequence: [run, ...]}`` (a run = list of per-frame regions
    or a :class:`~sesiam_lib.evaluation.results_io.VotTrajectory`).

    See :func:`evaluate_vot` for ``overlap`` and the returned dict. ``source`` optionally names each run's file
    (for errors).
    """
    if overlap not in OVERLAP_MODES:
        raise ValueError(f"overlap must be one of {OVERLAP_MODES}, got {overlap!r}")
    if eao_range is None:
        if version not in EAO_RANGES:
            raise ValueError(f"unknown VOT version {version!r}; give eao_range=(low, high)")
        eao_range = EAO_RANGES[version]
    low, high = eao_range
    pooled: list[np.ndarray] = []
    per_seq: dict[str, dict[str, Any]] = {}
    eao_runs: list[tuple[np.ndarray, list[int]]] = []
    fail_total = 0.0
    n_frames = 0
    for gt in groundtruth:
        if gt.name not in trajectories:
            raise KeyError(f"no VOT result for sequence {gt.name!r}")
        runs = trajectories[gt.name]
        if len(runs) == 0:
            raise KeyError(f"no VOT run for sequence {gt.name!r}")
        n = len(gt)
        acc_rows, fails = [], []
        for r, traj in enumerate(runs):
            name = source[gt.name][r] if source else f"{gt.name} run {r + 1}"
            check_length(len(traj), n, name)
            traj = VotTrajectory.from_regions(traj)[:n]
            ov = vot_overlaps(gt.regions, traj, gt.bounds, overlap=overlap)
            f = failure_frames(traj)
            fails.append(len(f))
            acc_rows.append(accuracy_overlaps(ov, traj, burnin))
            eao_runs.append((ov, f))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=RuntimeWarning)
            frame_acc = np.nanmean(np.stack(acc_rows), axis=0)
            seq_acc = float(np.nanmean(frame_acc)) if np.isfinite(frame_acc).any() else float("nan")
        pooled.append(frame_acc)
        mean_fail = float(np.mean(fails))
        fail_total += mean_fail
        n_frames += n
        per_seq[gt.name] = {
            "accuracy": seq_acc,
            "failures": mean_fail,
            "failures_per_run": fails,
            "runs": len(runs),
            "length": n,
        }
    allf = np.concatenate(pooled) if pooled else np.zeros(0)
    accuracy = float(np.nanmean(allf)) if np.isfinite(allf).any() else float("nan")
    frags, lengths = eao_fragments(eao_runs, skipping)
    curve = expected_overlap_curve(frags, lengths)
    return {
        "version": version,
        "overlap": overlap,
        "accuracy": accuracy,
        "failures": fail_total,
        "robustness": 100.0 * fail_total / n_frames if n_frames else float("nan"),
        "eao": eao_from_curve(curve, low, high),
        "eao_curve": curve.tolist(),
        "eao_range": (int(low), int(high)),
        "n_frames": int(n_frames),
        "n_fragments": int(len(frags)),
        "per_sequence": per_seq,
    }


def evaluate_vot(
    tracker_results_dir: str | os.PathLike,
    dataset_root: str | os.PathLike | Iterable,
    version: str = "VOT2016",
    *,
    eao_range: tuple[int, int] | None = None,
    burnin: int = BURNIN,
    skipping: int = SKIPPING,
    groundtruth: _Seq[VotGroundTruth] | None = None,
    overlap: str = "continuous",
) -> dict[str, Any]:
    """Evaluate one tracker's VOT baseline results.

    Args:
        tracker_results_dir: the tracker's folder, holding ``baseline/<seq>/<seq>_NNN.txt`` (any number of runs).
        dataset_root: VOT folder (``list.txt``, ``<seq>/groundtruth.txt``, images) or a list of
            :class:`~sesiam_lib.core.sequence.Sequence` (see :func:`load_vot_groundtruth`).
        version: ``"VOT2016"`` or ``"VOT2017"`` (also ``"VOT2018"``, ``"VOT2019"``): picks the EAO range.
        eao_range: override ``(low, high)``.
        groundtruth: pre-loaded :func:`load_vot_groundtruth` output (skips re-reading ``dataset_root``).
        overlap: the per-frame region overlap.

            - ``"continuous"`` (default): exact areas on continuous geometry, both regions clipped to the image
              rectangle ``[0, W] x [0, H]`` (:func:`~sesiam_lib.evaluation.overlap.vot_overlaps`; as the got10k
              toolkit's ``poly_iou``).
            - ``"pixels"``: the VOT MATLAB toolkit's pixel counting, as in the published VOT2016 / VOT2017
              results (and pysot): both regions rasterised on the pixel grid, bounded by the image pixels
              ``0..W-1 x 0..H-1`` (:func:`~sesiam_lib.evaluation.overlap.pixel_overlap`). Its rasterisation fills
              whole boundary pixels (a ``w x h`` box with integer corners covers ``(w + 1) x (h + 1)`` pixels),
              which favours small targets. Mean per-frame ``pixels - continuous`` overlap, simulated (2000 frames a
              cell, 1280x720 image, aspect 1:2..2:1; predicted box = the target's, centre jitter 25 % of the side,
              log-scale jitter 0.25, mean overlap ~0.44; axis-aligned or rotated up to 17 deg ground truth):

              ======================  ======  ======  ======  ======  ======
              target side (px)        10      20      50      100     200
              axis-aligned target     +0.034  +0.018  +0.007  +0.004  +0.002
              rotated target          +0.023  +0.012  +0.005  +0.003  +0.001
              ======================  ======  ======  ======  ======  ======

              Measured with a real tracker: +0.038 per frame at ~20 px targets, +0.0037 at ~200 px.
              On a small-target synthetic VOT set: accuracy 0.4694 (pixels, = pysot) vs 0.4531 (continuous),
              EAO 0.5433 vs 0.5304. Use ``"pixels"`` to compare with published VOT2016/2017 numbers.

    Returns:
        dict with ``"accuracy"``, ``"failures"`` (mean over runs, summed over sequences), ``"robustness"``
        (failures per 100 frames), ``"eao"``, ``"eao_curve"`` (``Phi(N)`` for ``N = 1..max length``, list),
        ``"eao_range"``, ``"n_frames"``, ``"n_fragments"``, ``"overlap"``, ``"per_sequence"`` (``{seq: {"accuracy",
        "failures", "failures_per_run", "runs", "length"}}``), ``"version"`` and ``"tracker"``.

    Raises:
        FileNotFoundError: a sequence's result file is missing (the message names the expected ``_001`` file).
        ResultFileError: a result file is malformed or shorter than the ground truth (names the file).
    """
    tdir = Path(tracker_results_dir)
    gts = list(groundtruth) if groundtruth is not None else load_vot_groundtruth(dataset_root)
    base = tdir / "baseline" if (tdir / "baseline").is_dir() else None
    if base is None:
        raise FileNotFoundError(f"VOT results folder not found: {tdir / 'baseline'}")
    trajs: dict[str, list] = {}
    sources: dict[str, list[str]] = {}
    for gt in gts:
        files = vot_run_files(base / gt.name, gt.name)
        trajs[gt.name] = [read_vot_trajectory(f) for f in files]
        sources[gt.name] = [str(f) for f in files]
    out = evaluate_vot_trajectories(
        trajs, gts, version, eao_range=eao_range, burnin=burnin, skipping=skipping, source=sources, overlap=overlap
    )
    out["tracker"] = tdir.name
    return out


def evaluate_vot_trackers(
    results_root: str | os.PathLike,
    dataset_root: str | os.PathLike | Iterable,
    version: str = "VOT2016",
    trackers: _Seq[str] | None = None,
    **kwargs,
) -> dict[str, dict[str, Any]]:
    """:func:`evaluate_vot` for every tracker folder ``<results_root>/<tracker>/baseline`` (or the listed ones)."""
    root = Path(results_root)
    if trackers is None:
        trackers = sorted(p.name for p in root.iterdir() if (p / "baseline").is_dir())
    gts = load_vot_groundtruth(dataset_root)
    return {t: evaluate_vot(root / t, None, version, groundtruth=gts, **kwargs) for t in trackers}
