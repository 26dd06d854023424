"""The synthetic T-MNIST / S-MNIST tracking benchmark (this project's own protocol, version 1).

The paper reports tracking on "T-MNIST" (digits that only move) and "S-MNIST" (digits that move and change
scale) but its protocol is not public, so this module defines one and keeps it stable (``PROTOCOL_VERSION``).

Protocol (defaults in brackets)
-------------------------------
- Frames: ``frame_size`` x ``frame_size`` RGB [192], JPEG quality ``jpeg_quality`` [90], written with cv2.
- Digits: real MNIST handwritten digits from the committed set (:mod:`sesiam_lib.data.digits`); the train, val
  and test splits draw from disjoint digit images. Each frame shows the target plus ``num_distractors``
  [1..3] other digits; each distractor has the target's class with probability ``same_class_prob`` [0.35].
  Digits are tinted with random bright colours (a same-class distractor gets a colour close to the target's
  half of the time), drawn in a random but fixed depth order, so digits pass over and under each other:
  occlusion happens.
- Size: a digit's *size* is the longer side of its stroke box. T-MNIST: every digit keeps one size through its
  sequence, drawn log-uniformly in ``size_range`` [16, 64] px. S-MNIST: every digit's size follows a smooth
  cosine trajectory in log-size between s_min and s_max = r * s_min, with r uniform in [2.25, 4] (capped by
  the size range) and s_min log-uniform so that [s_min, s_max] lies in ``size_range``; the trajectory runs
  1 to 1.5 full periods from a random phase, so every sequence reaches both extremes (ratio >= 2 guaranteed).
- Motion: sub-pixel smooth motion (velocity 0.5-3 px/frame with a small random walk, capped at 4 px/frame);
  digits bounce off the frame borders and always stay fully inside the frame.
- Background: a smooth colour-noise field, a few faint static digit strokes (clutter) and per-frame pixel noise.
- Ground truth: the tight box of the target's strokes, i.e. of the pixels where the rendered digit's
  opacity exceeds 0.5, 0-based ``x, y, w, h`` (pixel-inclusive: ``w = x_last - x_first + 1``), written as is
  to ``groundtruth.txt`` (GOT-10k style, comma separated, for every frame of every split). The box is the
  whole digit's, also while it is occluded. ``cover.label`` = ceil(8 x visible fraction of the target's stroke
  pixels) (0 = fully hidden), ``absence.label`` = cover == 0, ``cut_by_image.label`` = 0 (digits never leave).
- Scale statistics per sequence (from the ground-truth boxes, side = sqrt(w h)): ``min_side``, ``max_side``,
  ``scale_change`` = max_side / min_side, ``mean_rel_change`` = mean |side_t / side_{t-1} - 1|,
  ``max_rel_change``; in ``meta_info.ini``, ``<seq>/scale_stats.json`` and ``<split>/scale_stats.json``.
- Determinism: sequence i of a split is drawn from ``np.random.default_rng([seed, kind, split, i])`` alone:
  the same arguments give byte-identical files (on the same OpenCV/libjpeg build).

Layout (GOT-10k; readable by the GOT-10k toolkit and by :func:`sesiam_lib.data.load_got10k`)::

    root/<split>/list.txt                 sequence names, one a line
    root/<split>/synthetic.json           generation parameters, digit set and encoder (the split's provenance
                                          key: a later call must agree, or regenerate with overwrite=True)
    root/<split>/scale_stats.json         per-sequence scale statistics
    root/<split>/<name>/00000001.jpg ...
    root/<split>/<name>/groundtruth.txt   absence.label  cover.label  cut_by_image.label
    root/<split>/<name>/meta_info.ini     scale_stats.json

Generation is resumable: every sequence is written into a temporary folder and renamed into place when
complete; complete sequences are skipped. Use one root per kind (e.g. ``data/synthetic/S-MNIST``).
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import cv2
import numpy as np

from ..core.io import atomic_write_json, atomic_write_text
from ..core.provenance import array_sha256
from .digits import load_digits

__all__ = [
    "PROTOCOL_VERSION",
    "KINDS",
    "DEFAULT_COUNTS",
    "generate_synthetic",
    "synthetic_benchmark",
    "render_sequence",
    "scale_statistics",
]

PROTOCOL_VERSION = 1
KINDS = ("T-MNIST", "S-MNIST")
_KIND_CODE = {"T-MNIST": 1, "S-MNIST": 2}
_SPLIT_CODE = {"train": 1, "val": 2, "test": 3}
#: default number of sequences per split (each ``DEFAULT_FRAMES`` frames long)
DEFAULT_COUNTS = {"train": 200, "val": 20, "test": 40}
DEFAULT_FRAMES = 100
_STROKE_THRESHOLD = 0.5
_MIN_SOURCE_SIDE = 10  # source digits whose stroke box is smaller than this are not used


def _norm_kind(kind: str) -> str:
    key = kind.upper().replace("_", "-")
    if key in ("T-MNIST", "TMNIST"):
        return "T-MNIST"
    if key in ("S-MNIST", "SMNIST"):
        return "S-MNIST"
    raise ValueError(f"kind must be 'T-MNIST' or 'S-MNIST', got {kind!r}")


class _DigitPool:
    """Source digits of one split with their stroke boxes (float alpha in 0..1)."""

    def __init__(self, images: np.ndarray, labels: np.ndarray):
        alphas, boxes, keep = [], [], []
        for i, img in enumerate(images):
            ys, xs = np.nonzero(img > 255 * _STROKE_THRESHOLD)
            if len(xs) == 0:
                continue
            x0, x1, y0, y1 = xs.min(), xs.max(), ys.min(), ys.max()
            if max(x1 - x0 + 1, y1 - y0 + 1) < _MIN_SOURCE_SIDE:
                continue
            keep.append(i)
            alphas.append(img.astype(np.float32) / 255.0)
            # continuous stroke-box centre and size (pixel i spans [i, i + 1))
            boxes.append(((x0 + x1 + 1) / 2.0, (y0 + y1 + 1) / 2.0, x1 - x0 + 1.0, y1 - y0 + 1.0))
        if not keep:
            raise ValueError("digit pool is empty")
        self.alphas = np.stack(alphas)
        self.boxes = np.asarray(boxes, dtype=np.float64)
        self.labels = np.asarray(labels)[keep].astype(np.int64)
        self.by_class = {c: np.flatnonzero(self.labels == c) for c in range(10)}

    def pick(self, rng: np.random.Generator, cls: int | None = None, exclude_cls: int | None = None) -> int:
        if cls is not None and len(self.by_class.get(cls, ())):
            return int(rng.choice(self.by_class[cls]))
        if exclude_cls is not None:
            others = np.flatnonzero(self.labels != exclude_cls)
            if len(others):
                return int(rng.choice(others))
        return int(rng.integers(len(self.labels)))


def _random_colour(rng: np.random.Generator, near=None) -> np.ndarray:
    """A bright RGB colour (float 0..255); ``near``: a colour close to that one."""
    if near is not None:
        return np.clip(np.asarray(near) + rng.normal(0.0, 18.0, 3), 90.0, 255.0)
    hue = rng.uniform(0.0, 180.0)
    hsv = np.array([[[hue, rng.uniform(80.0, 255.0), rng.uniform(190.0, 255.0)]]], dtype=np.float32)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB).reshape(3).astype(np.float64)


def _size_trajectory(rng, kind, num_frames, size_range):
    """Per-frame digit size (longer side of the stroke box, px)."""
    lo, hi = float(size_range[0]), float(size_range[1])
    if kind == "T-MNIST":
        return np.full(num_frames, math.exp(rng.uniform(math.log(lo), math.log(hi))))
    max_ratio = hi / lo
    if max_ratio < 2.25:
        raise ValueError(f"S-MNIST needs size_range spanning at least 2.25x, got {size_range}")
    ratio = rng.uniform(2.25, min(4.0, max_ratio))
    s_min = math.exp(rng.uniform(math.log(lo), math.log(hi / ratio)))
    periods = rng.uniform(1.0, 1.5)
    phase = rng.uniform(0.0, 2.0 * math.pi)
    t = np.arange(num_frames, dtype=np.float64) / max(num_frames - 1, 1)
    u = 0.5 - 0.5 * np.cos(phase + 2.0 * math.pi * periods * t)  # 0..1, both extremes reached
    return s_min * np.exp(u * math.log(ratio))


def _motion(rng, num_frames, frame_size, half_extents):
    """Smooth bouncing centre trajectory (continuous coordinates); half_extents: (T, 2) stroke half sizes."""
    pos = np.empty((num_frames, 2))
    hw0 = half_extents[0]
    p = np.array([rng.uniform(hw0[0], frame_size - hw0[0]), rng.uniform(hw0[1], frame_size - hw0[1])])
    angle = rng.uniform(0.0, 2.0 * math.pi)
    v = rng.uniform(0.5, 3.0) * np.array([math.cos(angle), math.sin(angle)])
    for t in range(num_frames):
        if t > 0:
            v = v + rng.normal(0.0, 0.15, 2)
            speed = float(np.hypot(*v))
            if speed > 4.0:
                v *= 4.0 / speed
            elif speed < 0.3:
                v *= 0.3 / max(speed, 1e-6)
            p = p + v
        for a in range(2):
            lo_, hi_ = half_extents[t, a], frame_size - half_extents[t, a]
            if hi_ <= lo_:
                p[a] = frame_size / 2.0
                continue
            if p[a] < lo_:
                p[a] = min(2 * lo_ - p[a], hi_)
                v[a] = abs(v[a])
            elif p[a] > hi_:
                p[a] = max(2 * hi_ - p[a], lo_)
                v[a] = -abs(v[a])
        pos[t] = p
    return pos


def _warp_digit(alpha_src, src_box, scale, centre, frame_size):
    """Render a source digit (alpha 28x28) scaled by ``scale`` with its stroke-box centre at ``centre``.

    Returns (alpha patch float32, x0, y0) with the patch's top-left pixel at (x0, y0) in the frame, or None.
    """
    cx0, cy0 = src_box[0], src_box[1]
    hs, ws = alpha_src.shape
    left = centre[0] - scale * cx0
    top = centre[1] - scale * cy0
    x0 = max(int(math.floor(left)) - 1, 0)
    y0 = max(int(math.floor(top)) - 1, 0)
    x1 = min(int(math.ceil(left + scale * ws)) + 1, frame_size)
    y1 = min(int(math.ceil(top + scale * hs)) + 1, frame_size)
    if x1 <= x0 or y1 <= y0:
        return None
    # pixel-index mapping (centres at integers): x_idx = s*u_idx + s*0.5 + left - 0.5
    m = np.array(
        [[scale, 0.0, scale * 0.5 + left - 0.5 - x0], [0.0, scale, scale * 0.5 + top - 0.5 - y0]],
        dtype=np.float64,
    )
    patch = cv2.warpAffine(
        alpha_src, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )
    return patch, x0, y0


def _background(rng, pool, frame_size):
    """Smooth colour noise + faint static digit strokes (float32 [H, W, 3], RGB)."""
    grid = int(rng.integers(3, 8))
    base = rng.uniform(25.0, 95.0, 3)
    low = rng.uniform(-35.0, 35.0, (grid, grid, 3)).astype(np.float32)
    field = cv2.resize(low, (frame_size, frame_size), interpolation=cv2.INTER_CUBIC)
    bg = np.clip(field + base.astype(np.float32), 0.0, 255.0).astype(np.float32)
    for _ in range(int(rng.integers(3, 9))):
        idx = pool.pick(rng)
        size = rng.uniform(12.0, 80.0)
        scale = size / max(pool.boxes[idx, 2], pool.boxes[idx, 3])
        centre = rng.uniform(0.0, frame_size, 2)
        out = _warp_digit(pool.alphas[idx], pool.boxes[idx], scale, centre, frame_size)
        if out is None:
            continue
        a, x0, y0 = out
        a = a[..., None] * np.float32(rng.uniform(0.12, 0.3))
        region = bg[y0 : y0 + a.shape[0], x0 : x0 + a.shape[1]]
        region *= 1.0 - a
        region += a * _random_colour(rng).astype(np.float32)
    return bg


def scale_statistics(boxes: np.ndarray) -> dict:
    """Scale-change statistics of a box track (0-based xywh): side = sqrt(w h) over frames with a valid box."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    ok = np.isfinite(boxes).all(1) & (boxes[:, 2] > 0) & (boxes[:, 3] > 0)
    sides = np.sqrt(boxes[ok, 2] * boxes[ok, 3])
    if len(sides) == 0:
        return {"min_side": float("nan"), "max_side": float("nan"), "scale_change": float("nan"),
                "mean_rel_change": float("nan"), "max_rel_change": float("nan")}
    rel = np.abs(sides[1:] / sides[:-1] - 1.0) if len(sides) > 1 else np.zeros(1)
    return {
        "min_side": round(float(sides.min()), 4),
        "max_side": round(float(sides.max()), 4),
        "scale_change": round(float(sides.max() / sides.min()), 6),
        "mean_rel_change": round(float(rel.mean()), 6),
        "max_rel_change": round(float(rel.max()), 6),
    }


def render_sequence(
    rng: np.random.Generator,
    pool: _DigitPool,
    kind: str,
    num_frames: int,
    frame_size: int,
    size_range,
    num_distractors,
    same_class_prob: float,
):
    """Render one sequence in memory: (frames uint8 [T, H, W, 3] RGB, boxes (T, 4), cover (T,), info dict)."""
    kind = _norm_kind(kind)
    lo_d, hi_d = (num_distractors, num_distractors) if np.isscalar(num_distractors) else num_distractors
    n_dis = int(rng.integers(int(lo_d), int(hi_d) + 1))
    target_idx = pool.pick(rng)
    target_cls = int(pool.labels[target_idx])
    target_colour = _random_colour(rng)
    digits = [(target_idx, target_colour)]
    for _ in range(n_dis):
        if rng.random() < same_class_prob:
            idx = pool.pick(rng, cls=target_cls)
            colour = _random_colour(rng, near=target_colour) if rng.random() < 0.5 else _random_colour(rng)
        else:
            idx = pool.pick(rng, exclude_cls=target_cls)
            colour = _random_colour(rng)
        digits.append((idx, colour))
    tracks = []
    for idx, colour in digits:
        sizes = _size_trajectory(rng, kind, num_frames, size_range)
        w0, h0 = pool.boxes[idx, 2], pool.boxes[idx, 3]
        scales = sizes / max(w0, h0)
        half = np.stack([scales * w0 / 2.0, scales * h0 / 2.0], axis=1)
        centres = _motion(rng, num_frames, frame_size, half)
        tracks.append((idx, colour.astype(np.float32), scales, centres))
    order = rng.permutation(len(tracks))  # drawing order (later = on top)
    target_depth = int(np.flatnonzero(order == 0)[0])
    bg = _background(rng, pool, frame_size)
    noise = rng.normal(0.0, 3.0, (frame_size + 16, frame_size + 16, 3)).astype(np.float32)

    frames = np.empty((num_frames, frame_size, frame_size, 3), dtype=np.uint8)
    boxes = np.full((num_frames, 4), np.nan)
    cover = np.zeros(num_frames, dtype=np.int64)
    for t in range(num_frames):
        ox, oy = rng.integers(0, 17, 2)
        frame = bg + noise[oy : oy + frame_size, ox : ox + frame_size]
        target_mask = None
        occluded = None
        for depth, k in enumerate(order):
            idx, colour, scales, centres = tracks[k]
            out = _warp_digit(pool.alphas[idx], pool.boxes[idx], scales[t], centres[t], frame_size)
            if out is None:
                continue
            a, x0, y0 = out
            h, w = a.shape
            region = frame[y0 : y0 + h, x0 : x0 + w]
            a3 = a[..., None]
            region *= 1.0 - a3
            region += a3 * colour
            if k == 0:
                mask = np.zeros((frame_size, frame_size), dtype=bool)
                mask[y0 : y0 + h, x0 : x0 + w] = a > _STROKE_THRESHOLD
                target_mask = mask
                occluded = np.zeros_like(mask)
            elif depth > target_depth and target_mask is not None:
                occluded[y0 : y0 + h, x0 : x0 + w] |= a > _STROKE_THRESHOLD
        np.clip(frame, 0.0, 255.0, out=frame)
        frames[t] = (frame + 0.5).astype(np.uint8)
        if target_mask is not None and target_mask.any():
            ys, xs = np.nonzero(target_mask)
            boxes[t] = (xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)
            visible = np.count_nonzero(target_mask & ~occluded) / np.count_nonzero(target_mask)
            cover[t] = int(math.ceil(8.0 * visible - 1e-9)) if visible > 0 else 0
    info = {
        "target_class": target_cls,
        "num_distractors": n_dis,
        "same_class_distractors": int(sum(pool.labels[i] == target_cls for i, _ in digits[1:])),
        "target_depth": target_depth,
        "nominal_ratio": round(float(tracks[0][2].max() / tracks[0][2].min()), 6),
    }
    return frames, boxes, cover, info


def _params(kind, num_frames, seed, frame_size, size_range, num_distractors, same_class_prob, jpeg_quality):
    return {
        "protocol_version": PROTOCOL_VERSION,
        "kind": kind,
        "num_frames": int(num_frames),
        "seed": int(seed),
        "frame_size": int(frame_size),
        "size_range": [float(size_range[0]), float(size_range[1])],
        "num_distractors": [int(v) for v in np.broadcast_to(np.asarray(num_distractors), (2,))],
        "same_class_prob": float(same_class_prob),
        "jpeg_quality": int(jpeg_quality),
    }


def _write_sequence(seq_dir: Path, frames, boxes, cover, meta: dict, stats: dict, jpeg_quality: int):
    """Write one sequence into a temporary folder beside ``seq_dir`` and rename it into place."""
    tmp = seq_dir.parent / f".tmp-{seq_dir.name}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        params = [int(cv2.IMWRITE_JPEG_QUALITY), int(jpeg_quality)]
        for t, frame in enumerate(frames):
            ok, buf = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), params)
            if not ok:
                raise RuntimeError(f"cv2.imencode failed for frame {t + 1} of {seq_dir.name}")
            with open(tmp / f"{t + 1:08d}.jpg", "wb") as handle:
                handle.write(buf.tobytes())
        lines = "".join(f"{b[0]:.4f},{b[1]:.4f},{b[2]:.4f},{b[3]:.4f}\n" for b in boxes)
        (tmp / "groundtruth.txt").write_text(lines)
        (tmp / "cover.label").write_text("".join(f"{int(c)}\n" for c in cover))
        (tmp / "absence.label").write_text("".join(f"{int(c == 0)}\n" for c in cover))
        (tmp / "cut_by_image.label").write_text("0\n" * len(cover))
        ini = "[METAINFO]\n" + "".join(f"{k}: {v}\n" for k, v in meta.items())
        (tmp / "meta_info.ini").write_text(ini)
        (tmp / "scale_stats.json").write_text(json.dumps(stats, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, seq_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _sequence_complete(seq_dir: Path, num_frames: int) -> bool:
    return (
        (seq_dir / "scale_stats.json").is_file()
        and (seq_dir / "groundtruth.txt").is_file()
        and (seq_dir / f"{num_frames:08d}.jpg").is_file()
    )


def generate_synthetic(
    root: str | os.PathLike,
    kind: str = "S-MNIST",
    split: str = "train",
    num_sequences: int | None = None,
    num_frames: int = DEFAULT_FRAMES,
    seed: int = 0,
    frame_size: int = 192,
    size_range: tuple[float, float] = (16.0, 64.0),
    num_distractors: tuple[int, int] | int = (1, 3),
    same_class_prob: float = 0.35,
    jpeg_quality: int = 90,
    digits: str | os.PathLike | None = None,
    progress: bool = True,
    overwrite: bool = False,
):
    """Generate (or complete) one split of T-MNIST / S-MNIST under ``root/<split>/`` (GOT-10k layout).

    Args:
        root: dataset root (use one per kind). ``root/<split>/`` is created.
        kind: ``"T-MNIST"`` (digits only move) or ``"S-MNIST"`` (digits move and change scale).
        split: ``"train"``, ``"val"`` or ``"test"``; each uses its own disjoint digit images.
        num_sequences: number of sequences (default ``DEFAULT_COUNTS[split]``: 200 / 20 / 40).
        num_frames: frames per sequence [100].
        seed: master seed; sequence i depends only on (seed, kind, split, i).
        frame_size: frame side in pixels [192].
        size_range: (smallest, largest) digit size in px (longer stroke-box side) [16, 64].
        num_distractors: (min, max) other digits per sequence, inclusive [1, 3].
        same_class_prob: probability that a distractor has the target's class [0.35].
        jpeg_quality: cv2 JPEG quality [90].
        digits: digit set override (see :func:`sesiam_lib.data.digits.load_digits`).
        progress: show a tqdm bar over sequences.
        overwrite: delete an existing split generated with other parameters instead of raising.

    Returns:
        The split as a list of :class:`~sesiam_lib.core.sequence.Sequence` (via ``load_got10k``).

    Complete sequences already on disk are skipped (resumable, idempotent); a split generated with different
    parameters raises ``ValueError`` unless ``overwrite``.
    """
    from tqdm.auto import tqdm

    from .got10k import load_got10k

    kind = _norm_kind(kind)
    if split not in _SPLIT_CODE:
        raise ValueError(f"split must be 'train', 'val' or 'test', got {split!r}")
    if num_sequences is None:
        num_sequences = DEFAULT_COUNTS[split]
    if int(num_sequences) < 1 or int(num_frames) < 2:
        raise ValueError(f"need num_sequences >= 1 and num_frames >= 2, got {num_sequences}, {num_frames}")
    if size_range[0] <= 0 or size_range[1] < size_range[0] or size_range[1] >= frame_size:
        raise ValueError(f"size_range {size_range} must lie in (0, frame_size={frame_size})")
    images, labels = load_digits(split, digits)
    params = _params(kind, num_frames, seed, frame_size, size_range, num_distractors, same_class_prob, jpeg_quality)
    # the split's provenance: the digit images drawn from and the JPEG encoder's build count as much as the numbers
    params["digits_sha256"] = array_sha256(images) + array_sha256(labels)[:16]
    params["encoder"] = f"opencv {cv2.__version__}"
    split_dir = Path(root) / split
    params_file = split_dir / "synthetic.json"
    if params_file.is_file():
        old = json.loads(params_file.read_text())
        if old != params:
            if not overwrite:
                diff = {k: (old.get(k), v) for k, v in params.items() if old.get(k) != v}
                raise ValueError(
                    f"{split_dir} was generated with other parameters (old, new): {diff}; use another root "
                    "or overwrite=True"
                )
            shutil.rmtree(split_dir)
    split_dir.mkdir(parents=True, exist_ok=True)
    for leftover in split_dir.glob(".tmp-*"):  # interrupted earlier runs
        shutil.rmtree(leftover, ignore_errors=True)
    atomic_write_json(params_file, params)

    pool = _DigitPool(images, labels)
    names = [f"{kind}_{split}_{i + 1:04d}" for i in range(int(num_sequences))]
    all_stats = {}
    bar = tqdm(names, desc=f"{kind} {split}", unit="seq", disable=not progress)
    for i, name in enumerate(bar):
        seq_dir = split_dir / name
        if _sequence_complete(seq_dir, num_frames):
            all_stats[name] = json.loads((seq_dir / "scale_stats.json").read_text())
            continue
        if seq_dir.exists():
            shutil.rmtree(seq_dir)
        rng = np.random.default_rng([int(seed), _KIND_CODE[kind], _SPLIT_CODE[split], i])
        frames, boxes, cover, info = render_sequence(
            rng, pool, kind, num_frames, frame_size, size_range, num_distractors, same_class_prob
        )
        stats = scale_statistics(boxes)
        stats.update(info)
        meta = {
            "protocol": f"sesiam_lib synthetic v{PROTOCOL_VERSION}",
            "kind": kind,
            "object_class": f"digit {info['target_class']}",
            "major_class": "digit",
            "root_class": "mnist",
            "motion_class": "translation" if kind == "T-MNIST" else "translation and scaling",
            "resolution": f"({frame_size}, {frame_size})",
            "num_frames": num_frames,
            "seed": seed,
            **{k: stats[k] for k in ("min_side", "max_side", "scale_change", "mean_rel_change", "max_rel_change")},
        }
        _write_sequence(seq_dir, frames, boxes, cover, meta, stats, jpeg_quality)
        all_stats[name] = stats
    atomic_write_json(split_dir / "scale_stats.json", all_stats)
    atomic_write_text(split_dir / "list.txt", "".join(n + "\n" for n in names))
    return load_got10k(root, split)


def synthetic_benchmark(
    root: str | os.PathLike,
    kind: str = "S-MNIST",
    counts: dict[str, int] | None = None,
    num_frames: int = DEFAULT_FRAMES,
    seed: int = 0,
    splits=("train", "val", "test"),
    **kwargs,
) -> dict:
    """Generate the train / val / test splits of one kind under ``root`` (idempotent: skips what exists).

    ``counts`` overrides ``DEFAULT_COUNTS`` per split; other keyword arguments go to :func:`generate_synthetic`.
    Returns ``{split: [Sequence, ...]}``.
    """
    counts = {**DEFAULT_COUNTS, **(counts or {})}
    return {
        split: generate_synthetic(
            root, kind=kind, split=split, num_sequences=counts[split], num_frames=num_frames, seed=seed, **kwargs
        )
        for split in splits
    }
