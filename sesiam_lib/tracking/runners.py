"""Benchmark runners: one-pass (OTB, GOT-10k, synthetic, any list) and VOT supervised ("baseline") runs.

Result files (read back by :mod:`sesiam_lib.evaluation.results_io`; every file written atomically):

- one-pass, ``layout="otb"`` (default): ``<out>/<tracker>/<seq>.txt``, one line per frame ``x,y,w,h``
  **1-based** (OTB convention, :func:`sesiam_lib.core.boxes.xywh_to_otb`), comma separated, 4 decimals; the first
  line is the first frame's ground truth. ``<out>/<tracker>/<seq>_time.txt``: seconds per frame (the tracker's
  ``init``/``update`` only; image reading excluded, as in the release); the same file is also written to
  ``<out>/<tracker>/times/<seq>_time.txt``, where the got10k toolkit's ``ExperimentOTB`` reads speeds. The
  evaluation package reads this layout for OTB, GOT-10k and the synthetic sets alike.
- one-pass, ``layout="got10k"``: the GOT-10k toolkit's folders ``<out>/<tracker>/<seq>/<seq>_001.txt`` and
  ``<seq>_time.txt``; boxes comma separated and **unshifted**, in the frame of the sequence's
  ``groundtruth.txt`` (the got10k toolkit compares them with the file's values unchanged, and the loader keeps
  those values as written): :func:`~sesiam_lib.evaluation.results_io.write_got10k_result`, read back by
  :func:`~sesiam_lib.evaluation.results_io.read_got10k_result`. This is the layout to submit to the GOT-10k
  server.
- VOT baseline: ``<out>/<tracker>/baseline/<seq>/<seq>_001.txt``: ``1`` on every (re)initialisation frame,
  ``2`` on a failure frame (zero overlap with the ground truth), ``0`` on the frames skipped after a failure,
  else the box ``x,y,w,h``. VOT boxes are written **unshifted**, in the coordinate frame of the sequence's
  ``groundtruth.txt`` (= ``Sequence.polygons`` / ``Sequence.boxes``, which the loader keeps as written, treated
  as 0-based): the VOT toolkit, pysot and the got10k toolkit compare a result region directly with the
  ground-truth region of the same frame, and the release writes its 0-based boxes as they are. Per-frame times
  in ``<seq>_001_time.value`` beside it (0 for skipped frames; the VOT Python toolkit's name for the property,
  and not a ``.txt``: pysot's VOT loader takes any ``*0*.txt`` in the folder for a run file).
- run record: ``run_record.json`` in ``<out>/<tracker>/`` (one-pass) or ``<out>/<tracker>/baseline/`` (VOT):
  model name, checkpoint path and SHA-256, tracker hyper-parameters, device, mean frames/s, library version,
  timestamp, per-sequence frames/s (and VOT failures).

VOT protocol (FACTS §7, the release's loop): the tracker is initialised on frame ``s`` (``s = 0`` first) with the
ground truth; each later frame ``f`` is tracked and its overlap with the ground-truth polygon is computed with
:func:`sesiam_lib.evaluation.overlap.poly_overlap`, both regions clipped to the image ``[0, W] x [0, H]``
(``bounded=True``, as the VOT toolkit; the release's own loop did not clip: ``bounded=False``). Overlap 0 is a
failure: line ``2``, frames ``f+1 .. f+4`` are ``0``, and the tracker is re-initialised on frame ``f + 5``
(``skip_frames``). A frame whose ground truth is unusable (NaN, empty) is never a failure; a re-initialisation
frame with unusable ground truth is skipped (``0``) and the next frame tried.

Resuming (provenance-keyed, :mod:`sesiam_lib.core.provenance`): every finished sequence has a key file
``<out>/<tracker>/provenance/<seq>.json`` holding the fields that determined its result -- the tracker's
:meth:`~sesiam_lib.tracking.SiamFCTracker.provenance` (weights and checkpoint SHA-256, model name and options,
hyper-parameters, inference path, device type), the protocol (one-pass layout, or VOT ``skip_frames`` /
``bounded``), the sequence's fingerprint (ground truth, frame files) and the package version -- and their key.
A sequence is skipped only when its result file is complete *and* its stored key equals the key of the run
about to be made; otherwise it is re-run (a result without a key file, e.g. from an older version, is re-run).
Results in the folder of sequences *not* in this call whose key differs (or is unknown) are moved to
``<out>/<tracker>/superseded/<UTC time>/`` with a warning, so that the folder and its run record always describe
one tracker. A tracker without a ``provenance()`` method cannot be keyed: its sequences are always re-run.
Stale temporary files of an interrupted write (``.<file>.*.tmp``) are removed before a sequence is re-run.
``overwrite=True`` re-runs everything.

"True size given" runs (``run_one_pass(..., true_size=True)``, :func:`track_sequence`): localisation alone --
every frame is searched at the ground-truth size of that frame with one scale and reported with that size (a
frame with missing ground truth keeps the last valid size, :func:`true_sizes`); the protocol field
``true_size: true`` enters the provenance key and the run record says ``"true_size": true``.

Parallel runs: ``workers=N`` spreads sequences over ``N`` processes (``spawn``); each worker builds its own
tracker once from the picklable ``tracker`` argument: a :class:`TrackerFactory` (or any picklable callable
returning a tracker) is best; a tracker instance is pickled into every worker (CPU models only).
"""

from __future__ import annotations

import datetime as _dt
import glob
import os
import platform
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from ..core.boxes import box_is_valid, polygon_to_xywh
from ..core.io import atomic_write_json, atomic_write_text
from ..core.provenance import (differing_fields, environment_versions, package_version, provenance_key,
                               read_provenance, sequence_fingerprint, write_provenance)

__all__ = [
    "TrackerFactory",
    "track_sequence",
    "true_sizes",
    "run_one_pass",
    "run_otb",
    "run_got10k",
    "run_vot",
    "vot_supervised",
    "result_path",
    "vot_result_path",
]

# --------------------------------------------------------------------------------------------------------------
# building trackers
# --------------------------------------------------------------------------------------------------------------
@dataclass
class TrackerFactory:
    """A picklable recipe for a :class:`~sesiam_lib.tracking.SiamFCTracker` (one per worker process).

    Args:
        model_name: a :func:`sesiam_lib.models.build_model` name (``"se_siamfc_resnet22"``, ``"siamfc_tiny"`` ...).
        checkpoint: path of a checkpoint to load (a state dict, or a dict with ``"state_dict"``/``"model"``).
        benchmark: the benchmark whose released hyper-parameters to use (``"OTB2015"``, ``"VOT2017"`` ...).
        device: ``"cpu"``, ``"cuda"``, ``None`` (CUDA when available).
        model_options: extra ``build_model`` options (``padding_mode`` ...). A training checkpoint's recorded
            ``model_kwargs`` (e.g. ``score_adjust=True``) fill in the options not given, except ``sesn_impl`` and
            ``padding_mode``; a recorded value that differs from a given one raises ``ValueError``.
        tracker_options: tracker keyword overrides (``scale_step=...``, ``fast=False`` ...).
        name: the tracker's (result folder's) name; default ``model_name``.
        tuned: a ``best_params.json`` of :mod:`sesiam_lib.tuning` whose numbers replace the benchmark's
            (``tracker_options`` still win); recorded in the run record (``hyper_parameters_from``, provenance).
    """

    model_name: str
    checkpoint: str | None = None
    benchmark: str | None = None
    device: str | None = None
    model_options: dict[str, Any] = field(default_factory=dict)
    tracker_options: dict[str, Any] = field(default_factory=dict)
    name: str | None = None
    tuned: str | None = None

    def build_model(self):
        from ..models import build_model, checkpoint_model_options

        model = build_model(self.model_name, **checkpoint_model_options(self.model_options, self.checkpoint))
        if self.checkpoint is not None:
            _load_weights(model, self.checkpoint)
        return model.eval()

    def __call__(self):
        from .siamfc_tracker import SiamFCTracker

        opts = dict(self.tracker_options)
        opts.setdefault("device", self.device)
        opts.setdefault("name", self.name or self.model_name)
        opts.setdefault("checkpoint", None if self.checkpoint is None else str(self.checkpoint))
        return SiamFCTracker.from_benchmark(self.build_model(), self.model_name, self.benchmark,
                                            tuned=None if self.tuned is None else str(self.tuned), **opts)


def _load_weights(model, path) -> None:
    """Load a checkpoint into ``model``: the models package's loader when it has one, else a plain state dict."""
    try:
        from ..models import load_checkpoint  # type: ignore[attr-defined]
    except ImportError:
        load_checkpoint = None
    if load_checkpoint is not None:
        load_checkpoint(model, path)
        return
    import torch

    state = torch.load(str(path), map_location="cpu", weights_only=False)
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and key in state and isinstance(state[key], dict):
            state = state[key]
    state = {k[len("module."):] if k.startswith("module.") else k: v for k, v in state.items()}
    model.load_state_dict(state, strict=True)


def _is_tracker(obj) -> bool:
    return callable(getattr(obj, "init", None)) and callable(getattr(obj, "update", None))


def _make_tracker(tracker_or_factory):
    if _is_tracker(tracker_or_factory):
        return tracker_or_factory
    if callable(tracker_or_factory):
        tracker = tracker_or_factory()
        if not _is_tracker(tracker):
            raise TypeError(f"tracker factory returned {type(tracker).__name__}, which has no init()/update()")
        return tracker
    raise TypeError("tracker: expected a tracker (with init/update) or a callable that builds one, "
                    f"got {type(tracker_or_factory).__name__}")


def _tracker_info(tracker) -> dict[str, Any]:
    params = tracker.params() if callable(getattr(tracker, "params", None)) else {}
    return {
        "tracker_class": type(tracker).__name__,
        "model_name": getattr(tracker, "model_name", None),
        "checkpoint": getattr(tracker, "checkpoint", None),
        "benchmark_params": getattr(tracker, "benchmark", None),
        "device": str(getattr(tracker, "device", "unknown")),
        "fast": getattr(tracker, "fast", None),
        "hyper_parameters": params,
    }


# --------------------------------------------------------------------------------------------------------------
# paths and files
# --------------------------------------------------------------------------------------------------------------
def result_path(out_dir, tracker_name: str, seq_name: str, layout: str = "otb") -> Path:
    """Where a one-pass result goes (``layout`` ``"otb"`` or ``"got10k"``)."""
    base = Path(out_dir) / tracker_name
    if layout == "otb":
        return base / f"{seq_name}.txt"
    if layout == "got10k":
        return base / seq_name / f"{seq_name}_001.txt"
    raise ValueError(f"layout: expected 'otb' or 'got10k', got {layout!r}")


def vot_result_path(out_dir, tracker_name: str, seq_name: str) -> Path:
    """``<out>/<tracker>/baseline/<seq>/<seq>_001.txt``."""
    return Path(out_dir) / tracker_name / "baseline" / seq_name / f"{seq_name}_001.txt"


def provenance_path(out_dir, tracker_name: str, seq_name: str) -> Path:
    """``<out>/<tracker>/provenance/<seq>.json``: the key of a finished sequence's result (module docstring)."""
    return Path(out_dir) / tracker_name / PROVENANCE_DIR / f"{seq_name}.json"


PROVENANCE_DIR = "provenance"
SUPERSEDED_DIR = "superseded"


def _time_path(path: Path, seq_name: str, mode: str = "one-pass") -> Path:
    """Per-frame times of one result file. VOT: ``baseline/<seq>/<seq>_001_time.value`` (the VOT Python
    toolkit's property-file name; a ``.txt`` there would match pysot's run-file glob ``*0*.txt``). One-pass:
    ``<seq>_time.txt`` beside the result (for ``layout="got10k"`` that is where the got10k toolkit reads it)."""
    if mode == "vot":
        return path.with_name(f"{path.stem}_time.value")
    return path.parent / f"{seq_name}_time.txt"


def _time_paths(path: Path, seq_name: str, mode: str, layout: str | None) -> list[Path]:
    """Every times file to write (the first is the one read back): the OTB layout adds
    ``<tracker>/times/<seq>_time.txt``, where the got10k toolkit's ``ExperimentOTB`` reads speeds."""
    first = _time_path(path, seq_name, mode)
    if mode != "vot" and layout == "otb":
        return [first, path.parent / "times" / f"{seq_name}_time.txt"]
    return [first]


def _count_lines(path: Path) -> int:
    with open(path, encoding="utf-8", errors="replace") as handle:
        return sum(1 for line in handle if line.strip())


def _finished(path: Path, num_frames: int) -> bool:
    return path.is_file() and _count_lines(path) == num_frames


def _remove_stale_temps(path: Path) -> None:
    for tmp in glob.glob(os.path.join(glob.escape(str(path.parent)), f".{glob.escape(path.name)}.*.tmp")):
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass


def _write_times(path: Path, times) -> None:
    atomic_write_text(path, "".join(f"{float(t):.6f}\n" for t in times))


def _write_one_pass(path: Path, boxes: np.ndarray, layout: str) -> None:
    from ..evaluation import results_io

    if layout == "got10k":
        results_io.write_got10k_result(path, boxes)
    else:
        results_io.write_otb_result(path, boxes)


def _write_vot(path: Path, lines: list) -> None:
    from ..evaluation.results_io import write_vot_result

    write_vot_result(path, lines)


# --------------------------------------------------------------------------------------------------------------
# one sequence
# --------------------------------------------------------------------------------------------------------------
def _first_box(seq) -> np.ndarray:
    box = np.asarray(seq.boxes[0], dtype=np.float64)
    if not bool(box_is_valid(box)):
        raise ValueError(
            f"sequence {seq.name!r}: the first frame's ground-truth box {box.tolist()} is not a valid box "
            "(NaN or a side <= 0): cannot initialise the tracker"
        )
    return box


def true_sizes(ground_truth, n: int | None = None, name: str = "ground truth") -> np.ndarray:
    """The ``(N, 2)`` sizes ``(w, h)`` fed to the tracker in "true size given" runs (``true_size=True``).

    ``ground_truth``: ``(N, 4)`` boxes ``x, y, w, h`` or ``(N, 2)`` sizes. A frame whose ground truth is
    missing (NaN / inf, or a side <= 0: OTB's mark of an absent target) **keeps the last valid size**: the
    tracker goes on localising at the last known size. (Such a frame's score does not depend on the box: the
    OTB convention counts it a failure on the success curve and a success on the precision curves.) ``n``:
    the number of frames needed (at most ``N``).

    Raises:
        ValueError: not ``(N, 4)`` / ``(N, 2)``, fewer than ``n`` rows, or no valid size on the first frame.
    """
    gt = np.asarray(ground_truth, dtype=np.float64)
    if gt.ndim != 2 or gt.shape[1] not in (2, 4):
        raise ValueError(f"{name}: expected (N, 4) boxes or (N, 2) sizes for true-size tracking, got shape {gt.shape}")
    n = len(gt) if n is None else int(n)
    if len(gt) < n:
        raise ValueError(f"{name}: {len(gt)} rows of ground truth for {n} frames (true-size tracking needs one "
                         "a frame)")
    sizes = gt[:n, -2:].copy()
    valid = np.isfinite(sizes).all(1) & (sizes > 0).all(1)
    if n and not valid[0]:
        raise ValueError(f"{name}: the first frame's ground-truth size {sizes[0].tolist()} is not valid "
                         "(true-size tracking starts from it)")
    last = None
    for f in range(n):
        if valid[f]:
            last = sizes[f]
        else:
            sizes[f] = last
    return sizes


def _accepts_true_size(tracker) -> bool:
    import inspect

    try:
        return "true_size" in inspect.signature(tracker.update).parameters
    except (TypeError, ValueError):
        return False


def track_sequence(tracker, sequence, *, debug: bool = False, max_frames: int | None = None,
                   true_size: bool = False) -> dict[str, Any]:
    """Track one sequence in one pass (initialised on its first frame's ground truth).

    Args:
        tracker: a tracker with ``init(image, box)`` / ``update(image) -> box``.
        sequence: a :class:`~sesiam_lib.core.sequence.Sequence` (or anything with ``name``, ``boxes``,
            ``image(i)`` and ``len``).
        debug: also return a copy of ``tracker.last_debug`` after every frame (memory-hungry; for notebooks).
        max_frames: stop after this many frames.
        true_size: "true size given" tracking (localisation alone): every frame ``t >= 1`` is tracked with
            ``tracker.update(image, true_size=(w, h))``, the ground-truth size of frame ``t`` (a missing one:
            the last valid, :func:`true_sizes`); see :meth:`~sesiam_lib.tracking.SiamFCTracker.update`.

    Returns:
        ``{"boxes": (N, 4) 0-based (row 0 = ground truth), "times": (N,) seconds, "debug": [...]}``.

    Raises:
        TypeError: ``true_size`` with a tracker whose ``update`` takes no ``true_size``.
    """
    n = len(sequence) if max_frames is None else min(len(sequence), int(max_frames))
    boxes = np.zeros((n, 4))
    times = np.zeros(n)
    debugs: list = []
    if n == 0:
        return {"boxes": boxes, "times": times, "debug": debugs}
    box0 = _first_box(sequence)
    sizes = None
    if true_size:
        if not _accepts_true_size(tracker):
            raise TypeError(f"true_size: tracker {type(tracker).__name__} cannot track with the true size given "
                            "(its update() takes no true_size=(w, h))")
        sizes = true_sizes(sequence.boxes, n, name=f"sequence {getattr(sequence, 'name', '?')!r}")
    for f in range(n):
        image = sequence.image(f)
        start = time.perf_counter()
        if f == 0:
            tracker.init(image, box0)
            boxes[0] = box0
        elif sizes is not None:
            boxes[f] = tracker.update(image, true_size=sizes[f])
        else:
            boxes[f] = tracker.update(image)
        times[f] = time.perf_counter() - start
        if debug:
            debugs.append(dict(getattr(tracker, "last_debug", {}) or {}))
    return {"boxes": boxes, "times": times, "debug": debugs}


def _vot_init_region(seq, f: int):
    """The region to initialise on at frame ``f`` (polygon when it is the source of ``boxes[f]``), or None."""
    box = np.asarray(seq.boxes[f], dtype=np.float64)
    polys = getattr(seq, "polygons", None)
    if polys is not None:
        poly = np.asarray(polys[f], dtype=np.float64)
        if np.isfinite(poly).all():
            with np.errstate(invalid="ignore", divide="ignore"):
                from_poly = polygon_to_xywh(poly)
            if bool(box_is_valid(from_poly)) and (not np.isfinite(box).all() or np.allclose(from_poly, box, 0, 0)):
                return poly  # the release initialises from the polygon itself
    return box if bool(box_is_valid(box)) else None


def _vot_gt_region(seq, f: int):
    polys = getattr(seq, "polygons", None)
    region = np.asarray(polys[f] if polys is not None else seq.boxes[f], dtype=np.float64)
    return region if np.isfinite(region).all() else None


def vot_supervised(tracker, sequence, *, skip_frames: int = 5, bounded: bool = True) -> dict[str, Any]:
    """One VOT supervised (baseline) run of a sequence.

    Returns:
        ``{"lines": [1 | 2 | 0 | (4,) box ...], "times": (N,), "failures": int, "overlaps": (N,) (NaN on codes)}``.
    """
    from ..evaluation.overlap import poly_overlap

    n = len(sequence)
    lines: list = []
    times = np.zeros(n)
    overlaps = np.full(n, np.nan)
    failures = 0
    start = 0
    for f in range(n):
        if f < start:
            lines.append(0)
            continue
        image = sequence.image(f)
        if f == start:
            region = _vot_init_region(sequence, f)
            if region is None:  # unusable ground truth: try the next frame
                lines.append(0)
                start = f + 1
                continue
            t0 = time.perf_counter()
            tracker.init(image, region)
            times[f] = time.perf_counter() - t0
            lines.append(1)
            continue
        t0 = time.perf_counter()
        box = np.asarray(tracker.update(image), dtype=np.float64)
        times[f] = time.perf_counter() - t0
        gt = _vot_gt_region(sequence, f)
        if gt is None:
            lines.append(box)
            continue
        height, width = np.shape(image)[:2]
        ov = poly_overlap(gt, box, bounds=(width, height) if bounded else None)
        overlaps[f] = ov
        if ov > 0:
            lines.append(box)
        else:
            lines.append(2)
            failures += 1
            start = f + int(skip_frames)
    return {"lines": lines, "times": times, "failures": failures, "overlaps": overlaps}


# --------------------------------------------------------------------------------------------------------------
# tasks (run in-process or in a worker)
# --------------------------------------------------------------------------------------------------------------
_WORKER_TRACKER = None


def _worker_init(tracker_or_factory, threads: int) -> None:
    global _WORKER_TRACKER
    from ..core.workers import exit_with_parent

    exit_with_parent()  # no orphans: this worker dies with the runner's process (even on its SIGKILL)
    try:
        import torch

        torch.set_num_threads(max(1, int(threads)))
    except ImportError:  # pragma: no cover
        pass
    try:
        import cv2

        cv2.setNumThreads(1)
    except ImportError:  # pragma: no cover
        pass
    _WORKER_TRACKER = tracker_or_factory


def _worker_task(task: dict) -> dict:
    global _WORKER_TRACKER
    if not _is_tracker(_WORKER_TRACKER):
        _WORKER_TRACKER = _make_tracker(_WORKER_TRACKER)
        _check_same_tracker(_WORKER_TRACKER, task.get("provenance"))  # once per worker: weights are hashed
    return _run_task(_WORKER_TRACKER, task)


def _check_same_tracker(tracker, fields: dict | None) -> None:
    """A worker's tracker must be the one the main process made the keys for."""
    if fields is None:
        return
    mine = _tracker_provenance(tracker)
    if mine != fields["tracker"]:
        changed = ", ".join(differing_fields(fields["tracker"], mine or {}))
        raise RuntimeError(f"tracker factory built a different tracker in this process ({changed} differ from the "
                           "main process's): its results could not be keyed; make the factory deterministic")


def _run_task(tracker, task: dict) -> dict:
    seq, path = task["sequence"], Path(task["path"])
    fields = task.get("provenance")
    key_path = Path(task["provenance_path"])
    if key_path.exists():
        key_path.unlink()  # the result about to be (re)written is not the one the old key described
    _remove_stale_temps(path)
    time_paths = _time_paths(path, seq.name, task["mode"], task.get("layout"))
    for time_path in time_paths:
        _remove_stale_temps(time_path)
    out: dict[str, Any] = {"name": seq.name, "frames": len(seq), **_tracker_info(tracker)}
    if task["mode"] == "vot":
        res = vot_supervised(tracker, seq, skip_frames=task["skip_frames"], bounded=task["bounded"])
        _write_times(time_paths[0], res["times"])
        _write_vot(path, res["lines"])
        out["failures"] = int(res["failures"])
    else:
        res = track_sequence(tracker, seq, true_size=bool(task.get("true_size")))
        for time_path in time_paths:
            _write_times(time_path, res["times"])
        _write_one_pass(path, res["boxes"], task["layout"])
    if fields is not None:  # written last: a result without its key is re-run on resume
        out["key"] = write_provenance(key_path, fields)
    out["time"] = float(np.sum(res["times"]))
    return out


def _tracker_provenance(tracker) -> dict[str, Any] | None:
    describe = getattr(tracker, "provenance", None)
    return describe() if callable(describe) else None


def _sequence_fields(tracker_fields: dict | None, protocol: dict, seq) -> dict[str, Any] | None:
    """The provenance fields of one tracked sequence (``None``: an unkeyable tracker)."""
    if tracker_fields is None:
        return None
    return {"artefact": "tracking-result", "library_version": package_version(),
            "environment": environment_versions(), "protocol": protocol,
            "tracker": tracker_fields, "sequence": sequence_fingerprint(seq)}


def _up_to_date(path: Path, key_path: Path, seq, fields: dict | None) -> bool:
    if fields is None or not _finished(path, len(seq)):
        return False
    stored = read_provenance(key_path)
    return stored is not None and stored["key"] == provenance_key(fields)


# --------------------------------------------------------------------------------------------------------------
# the runners
# --------------------------------------------------------------------------------------------------------------
def _resolve_name(tracker_or_factory, tracker_name: str | None) -> str:
    name = tracker_name or getattr(tracker_or_factory, "name", None) or getattr(tracker_or_factory, "model_name", None)
    if not name:
        raise ValueError("tracker_name: give the result folder's name (the tracker has no 'name')")
    if os.sep in name or (os.altsep and os.altsep in name) or name in (".", ".."):
        raise ValueError(f"tracker_name: {name!r} must be a plain folder name")
    return str(name)


def _count_failures(path: Path) -> int:
    with open(path, encoding="utf-8", errors="replace") as handle:
        return sum(1 for line in handle if line.strip() == "2")


def _read_time_total(path: Path) -> float | None:
    try:
        return float(np.loadtxt(path, ndmin=1).sum())
    except (OSError, ValueError):
        return None


def _run(mode: str, tracker_or_factory, sequences: Iterable, out_dir, tracker_name: str | None,
         **kwargs) -> dict[str, Any]:
    """:func:`_run_unlocked` holding the lock of the result folder ``<out_dir>/<tracker>/`` (one run per folder:
    a second run on it fails at once with :class:`~sesiam_lib.core.runlock.RunLockedError`)."""
    from ..core.runlock import run_folder_lock

    folder = Path(out_dir) / _resolve_name(tracker_or_factory, tracker_name)
    with run_folder_lock(folder, what="tracking"):
        return _run_unlocked(mode, tracker_or_factory, sequences, out_dir, tracker_name, **kwargs)


def _run_unlocked(
    mode: str,
    tracker_or_factory,
    sequences: Iterable,
    out_dir,
    tracker_name: str | None,
    *,
    layout: str = "otb",
    skip_frames: int = 5,
    bounded: bool = True,
    workers: int = 1,
    overwrite: bool = False,
    progress: bool = True,
    benchmark: str | None = None,
    checkpoint: str | None = None,
    record_extra: dict | None = None,
    mp_context: str = "spawn",
    true_size: bool = False,
) -> dict[str, Any]:
    sequences = list(sequences)
    true_size = bool(true_size)
    if true_size and mode == "vot":
        raise ValueError("true_size: only one-pass runs can be tracked with the true size given")
    name = _resolve_name(tracker_or_factory, tracker_name)
    names = [s.name for s in sequences]
    if len(set(names)) != len(names):
        raise ValueError("sequences: two sequences share a name (their result files would collide)")
    if PROVENANCE_DIR in names or SUPERSEDED_DIR in names:
        raise ValueError(f"sequences: the names {PROVENANCE_DIR!r} and {SUPERSEDED_DIR!r} are reserved for the "
                         "runner's own folders")
    out_dir = Path(out_dir)
    paths = {s.name: (vot_result_path(out_dir, name, s.name) if mode == "vot"
                      else result_path(out_dir, name, s.name, layout)) for s in sequences}
    # the tracker of this process describes the run (and runs it when there are no workers)
    main_tracker = _make_tracker(tracker_or_factory)
    if true_size and not _accepts_true_size(main_tracker):
        raise TypeError(f"true_size: tracker {type(main_tracker).__name__} cannot track with the true size given "
                        "(its update() takes no true_size=(w, h))")
    tracker_fields = _tracker_provenance(main_tracker)
    if tracker_fields is None:
        warnings.warn(f"tracker {name!r} has no provenance(): its results cannot be keyed, every sequence is "
                      "re-run", RuntimeWarning, stacklevel=3)
    protocol = ({"mode": "vot", "skip_frames": int(skip_frames), "bounded": bool(bounded)} if mode == "vot"
                else {"mode": "one-pass", "layout": layout})
    if true_size:  # only then: the keys of normal runs stay what they were
        protocol["true_size"] = True
    fields = {s.name: _sequence_fields(tracker_fields, protocol, s) for s in sequences}
    key_paths = {s.name: provenance_path(out_dir, name, s.name) for s in sequences}
    todo = [s for s in sequences
            if overwrite or not _up_to_date(paths[s.name], key_paths[s.name], s, fields[s.name])]
    tasks = [{"mode": mode, "sequence": s, "path": str(paths[s.name]), "skip_frames": skip_frames,
              "bounded": bounded, "layout": layout, "true_size": true_size, "provenance": fields[s.name],
              "provenance_path": str(key_paths[s.name])} for s in todo]
    if tracker_fields is not None:
        _supersede_others(out_dir / name, mode, layout, set(names),
                          _run_identity(tracker_fields, protocol))

    results: dict[str, dict] = {}
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(sequences), initial=len(sequences) - len(todo), unit="seq", desc=name)

    def _done(res: dict) -> None:
        results[res["name"]] = res
        if bar is not None:
            frames = sum(r["frames"] for r in results.values())
            secs = sum(r["time"] for r in results.values())
            bar.set_postfix(seq=res["name"], fps=f"{frames / secs:.1f}" if secs > 0 else "-")
            bar.update(1)

    try:
        workers = max(1, int(workers))
        if tasks and (workers == 1 or len(tasks) == 1):
            for task in tasks:
                _done(_run_task(main_tracker, task))
        elif tasks:
            import multiprocessing as mp

            threads = max(1, (os.cpu_count() or 1) // workers)
            ctx = mp.get_context(mp_context)
            with ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=ctx,
                                     initializer=_worker_init, initargs=(tracker_or_factory, threads)) as pool:
                futures = [pool.submit(_worker_task, t) for t in tasks]
                try:
                    for fut in as_completed(futures):
                        _done(fut.result())
                except BaseException:
                    for fut in futures:
                        fut.cancel()
                    raise
    finally:
        if bar is not None:
            bar.close()

    record = _write_record(mode, name, out_dir, sequences, paths, results, main_tracker, tracker_fields, fields,
                           benchmark=benchmark, checkpoint=checkpoint, layout=layout, skip_frames=skip_frames,
                           bounded=bounded, extra=record_extra, true_size=true_size)
    return record


def _run_identity(tracker_fields: dict, protocol: dict) -> str:
    """The key of everything but the sequence: equal for all results of one tracker run."""
    return provenance_key({"library_version": package_version(), "environment": environment_versions(),
                           "protocol": protocol, "tracker": tracker_fields})


def _result_files(base: Path, mode: str, layout: str) -> dict[str, list[Path]]:
    """Sequence name -> its result files/folders in ``base`` (``<out>/<tracker>``), by layout."""
    found: dict[str, list[Path]] = {}
    if mode == "vot":
        for folder in sorted((base / "baseline").glob("*/")):
            if folder.is_dir():
                found[folder.name] = [folder]
    elif layout == "got10k":
        for folder in sorted(base.glob("*/")):
            if folder.is_dir() and (folder / f"{folder.name}_001.txt").exists():
                found[folder.name] = [folder]
    else:
        for path in sorted(base.glob("*.txt")):
            if not path.name.endswith("_time.txt"):
                found[path.stem] = [path] + [p for p in _time_paths(path, path.stem, mode, layout) if p.exists()]
    for key_file in sorted((base / PROVENANCE_DIR).glob("*.json")):
        found.setdefault(key_file.stem, []).append(key_file)
    for name, files in found.items():
        key_file = base / PROVENANCE_DIR / f"{name}.json"
        if key_file.exists() and key_file not in files:
            files.append(key_file)
    return found


def _supersede_others(base: Path, mode: str, layout: str, names: set, identity: str) -> None:
    """Move results of sequences outside this call that another (or an unknown) tracker run made."""
    stale = {}
    for name, files in _result_files(base, mode, layout).items():
        if name in names:
            continue
        stored = read_provenance(base / PROVENANCE_DIR / f"{name}.json")
        fields = (stored or {}).get("fields") or {}
        if stored is None or provenance_key({k: fields.get(k) for k in (
                "library_version", "environment", "protocol", "tracker")}) != identity:
            stale[name] = files
    if not stale:
        return
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
    target = base / SUPERSEDED_DIR / stamp
    for files in stale.values():
        for path in files:
            dest = target / path.relative_to(base)
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, dest)
    warnings.warn(f"{base}: results of {len(stale)} sequence(s) outside this run ({', '.join(sorted(stale)[:5])}"
                  f"{' ...' if len(stale) > 5 else ''}) were made by another tracker, protocol or version (or carry "
                  f"no key): moved to {target}", RuntimeWarning, stacklevel=4)


def _write_record(mode, name, out_dir, sequences, paths, results, tracker, tracker_fields, fields, *, benchmark,
                  checkpoint, layout, skip_frames, bounded, extra, true_size=False) -> dict[str, Any]:
    """``run_record.json``: describes exactly the tracker that made every result file of ``sequences``."""
    from ..core.io import file_sha256

    protocol = next((f["protocol"] for f in fields.values() if f is not None), None)
    info = _tracker_info(tracker)
    ckpt = checkpoint or info.get("checkpoint")
    sha = (tracker_fields or {}).get("checkpoint_sha256")
    if sha is None and ckpt is not None and Path(ckpt).is_file():
        sha = file_sha256(ckpt)

    per_seq: dict[str, Any] = {}
    total_frames, total_time = 0, 0.0
    for s in sequences:
        path = paths[s.name]
        t = results[s.name]["time"] if s.name in results else _read_time_total(_time_path(path, s.name, mode))
        entry: dict[str, Any] = {"frames": len(s), "resumed": s.name not in results}
        if t is not None and t > 0:
            entry["fps"] = len(s) / t
            total_frames += len(s)
            total_time += t
        if s.name in results and "failures" in results[s.name]:
            entry["failures"] = results[s.name]["failures"]
        elif mode == "vot":
            entry["failures"] = _count_failures(path)
        if fields.get(s.name) is not None:
            entry["key"] = provenance_key(fields[s.name])
        per_seq[s.name] = entry
    run_time = sum(r["time"] for r in results.values())
    run_frames = sum(r["frames"] for r in results.values())
    import torch

    record = {
        "tracker_name": name,
        "protocol": "vot-baseline" if mode == "vot" else "one-pass",
        "layout": "vot" if mode == "vot" else layout,
        "true_size": bool(true_size),
        "benchmark": benchmark,
        "model_name": info.get("model_name"),
        "checkpoint": None if ckpt is None else str(ckpt),
        "checkpoint_sha256": sha,
        "tracker_class": info.get("tracker_class"),
        "hyper_parameters": info.get("hyper_parameters"),
        "hyper_parameters_from": info.get("benchmark_params"),
        "device": None if info.get("device") is None else str(info.get("device")),
        "fast": info.get("fast"),
        "mean_fps": total_frames / total_time if total_time > 0 else None,
        "this_call_fps": run_frames / run_time if run_time > 0 else None,
        "sequences_total": len(sequences),
        "sequences_run": len(results),
        "frames_total": int(sum(len(s) for s in sequences)),
        "per_sequence": per_seq,
        "library_version": package_version(),
        "provenance": tracker_fields,
        "run_key": None if tracker_fields is None else _run_identity(tracker_fields, protocol),
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "python": platform.python_version(),
        "timestamp": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if mode == "vot":
        record.update(skip_frames=int(skip_frames), overlap_bounded_by_image=bool(bounded),
                      failures_total=int(sum(v.get("failures", 0) for v in per_seq.values())))
    if extra:
        record.update(extra)
    base = Path(out_dir) / name / ("baseline" if mode == "vot" else "")
    atomic_write_json(base / "run_record.json", record)
    record["record_path"] = str(base / "run_record.json")
    return record


def run_one_pass(tracker, sequences: Iterable, out_dir, tracker_name: str | None = None, *, layout: str = "otb",
                 workers: int = 1, overwrite: bool = False, progress: bool = True, benchmark: str | None = None,
                 checkpoint: str | None = None, record_extra: dict | None = None,
                 mp_context: str = "spawn", true_size: bool = False) -> dict[str, Any]:
    """One-pass evaluation of every sequence (OTB protocol): init on frame 1's ground truth, track to the end.

    Args:
        tracker: a tracker instance, or a picklable factory (e.g. :class:`TrackerFactory`) building one.
        sequences: :class:`~sesiam_lib.core.sequence.Sequence` objects.
        out_dir: results root; files go to ``<out_dir>/<tracker_name>/`` (see the module docstring).
        tracker_name: result folder name; default the tracker's / factory's ``name``.
        layout: ``"otb"`` (``<seq>.txt``) or ``"got10k"`` (``<seq>/<seq>_001.txt``).
        workers: processes to spread the sequences over.
        overwrite: re-run finished sequences.
        progress: show a tqdm bar (sequences, running frames/s).
        benchmark: recorded in the run record.
        checkpoint: checkpoint path for the record (default: the tracker's / factory's ``checkpoint``).
        record_extra: more keys for the run record.
        true_size: "true size given" tracking, localisation alone (:func:`track_sequence`): before each
            frame's update the tracker's size is set to that frame's ground-truth size, the search uses one
            scale, and the reported box is the new centre with the ground-truth size (a frame with missing
            ground truth: the last valid size, :func:`true_sizes`). Part of the provenance key (protocol
            ``true_size``) and of the run record, so such results never resume into normal ones; use another
            ``tracker_name`` to keep both.

    Returns:
        the run record (also saved as ``run_record.json``).

    Raises:
        ValueError: a sequence's first-frame ground truth is not a valid box.
        TypeError: ``true_size`` with a tracker whose ``update`` takes no ``true_size``.
    """
    return _run("one-pass", tracker, sequences, out_dir, tracker_name, layout=layout, workers=workers,
                overwrite=overwrite, progress=progress, benchmark=benchmark, checkpoint=checkpoint,
                record_extra=record_extra, mp_context=mp_context, true_size=true_size)


def run_otb(tracker, sequences: Iterable, out_dir, tracker_name: str | None = None, **kwargs) -> dict[str, Any]:
    """:func:`run_one_pass` with the OTB layout (also right for the synthetic sets and any sequence list)."""
    kwargs.setdefault("layout", "otb")
    return run_one_pass(tracker, sequences, out_dir, tracker_name, **kwargs)


def run_got10k(tracker, sequences: Iterable, out_dir, tracker_name: str | None = None, **kwargs) -> dict[str, Any]:
    """:func:`run_one_pass` with the GOT-10k toolkit's folder layout (``<seq>/<seq>_001.txt``)."""
    kwargs.setdefault("layout", "got10k")
    return run_one_pass(tracker, sequences, out_dir, tracker_name, **kwargs)


def run_vot(tracker, sequences: Iterable, out_dir, tracker_name: str | None = None, *, skip_frames: int = 5,
            bounded: bool = True, workers: int = 1, overwrite: bool = False, progress: bool = True,
            benchmark: str | None = None, checkpoint: str | None = None, record_extra: dict | None = None,
            mp_context: str = "spawn") -> dict[str, Any]:
    """VOT supervised ("baseline") runs with re-initialisation ``skip_frames`` frames after each failure.

    Same arguments as :func:`run_one_pass`, plus ``skip_frames`` (5) and ``bounded`` (clip both regions to the
    image before the failure overlap test, as the VOT toolkit; the release did not). Writes
    ``<out>/<tracker>/baseline/<seq>/<seq>_001.txt`` (see the module docstring). Returns the run record.
    """
    return _run("vot", tracker, sequences, out_dir, tracker_name, skip_frames=skip_frames, bounded=bounded,
                workers=workers, overwrite=overwrite, progress=progress, benchmark=benchmark,
                checkpoint=checkpoint, record_extra=record_extra, mp_context=mp_context)
