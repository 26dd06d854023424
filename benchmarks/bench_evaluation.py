"""Speed of the evaluation code on a synthetic benchmark.

Synthesises, in a temporary folder, 100 sequences x 10 trackers x 500 frames of random OTB results and times
:func:`sesiam_lib.evaluation.evaluate_otb` (file parsing included); then a VOT-style set (100 sequences of
500 frames with rotated-rectangle ground truth, 10 trackers, ``--vot-runs`` runs each, failures and
re-initialisations written as the VOT toolkit writes them) and times :func:`evaluate_vot_trackers` (overlaps,
accuracy, failures, EAO). Prints the measured seconds.

Usage: ``python benchmarks/bench_evaluation.py [--sequences 100] [--trackers 10] [--frames 500] [--vot-runs 1]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from sesiam_lib.core.sequence import Sequence
from sesiam_lib.evaluation import evaluate_otb, evaluate_vot_trackers
from sesiam_lib.evaluation.results_io import _fmt_rows
from sesiam_lib.evaluation.overlap import vot_overlaps


def write_otb(path: Path, boxes: np.ndarray) -> None:
    """Plain (non-fsynced) write of an OTB file: the set-up is not what is timed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    b = boxes.copy()
    b[:, :2] += 1.0
    path.write_text("\n".join(_fmt_rows(b)) + "\n")


def write_vot(path: Path, regions) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{int(r[0])}" if len(r) == 1 else _fmt_rows(np.asarray(r, float)[None])[0] for r in regions]
    path.write_text("\n".join(lines) + "\n")


def random_walk_boxes(rng, n):
    c = np.cumsum(rng.normal(0, 2, (n, 2)), 0) + 200
    s = np.exp(np.cumsum(rng.normal(0, 0.01, (n, 1)), 0)) * rng.uniform(20, 60, (1, 2))
    return np.concatenate([c - s / 2, s], 1)


def rotated_polygons(boxes, rng):
    c = boxes[:, :2] + boxes[:, 2:] / 2
    th = np.cumsum(rng.normal(0, 0.02, len(boxes)))
    cs, sn = np.cos(th), np.sin(th)
    corners = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]])
    out = []
    for k in range(4):
        dx, dy = corners[k, 0] * boxes[:, 2], corners[k, 1] * boxes[:, 3]
        out += [c[:, 0] + cs * dx - sn * dy, c[:, 1] + sn * dx + cs * dy]
    return np.stack(out, 1)


def simulate_vot_run(gt_poly, bounds, rng, noise):
    """A VOT-toolkit-like trajectory: drifting boxes, ``2`` on zero overlap, ``0`` x4, re-init ``1`` 5 frames later."""
    n = len(gt_poly)
    xs, ys = gt_poly[:, 0::2], gt_poly[:, 1::2]
    gt_box = np.stack([xs.min(1), ys.min(1), xs.max(1) - xs.min(1), ys.max(1) - ys.min(1)], 1)
    out: list = []
    f = 0
    while f < n:
        out.append([1.0])
        seg = np.arange(f + 1, n)
        drift = np.cumsum(rng.normal(0, noise, (len(seg), 2)), 0)
        pred = gt_box[seg] + np.concatenate([drift, np.zeros((len(seg), 2))], 1)
        ov = vot_overlaps(gt_poly[seg], pred, bounds)
        bad = np.flatnonzero(ov <= 0)
        if len(bad) == 0:
            out += list(pred)
            break
        out += list(pred[: bad[0]]) + [[2.0]] + [[0.0]] * 4
        f = seg[bad[0]] + 5
    return out[:n]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sequences", type=int, default=100)
    ap.add_argument("--trackers", type=int, default=10)
    ap.add_argument("--frames", type=int, default=500)
    ap.add_argument("--vot-runs", type=int, default=1)
    args = ap.parse_args()
    rng = np.random.default_rng(0)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # ---------------- OTB ----------------
        seqs = []
        for s in range(args.sequences):
            gt = random_walk_boxes(rng, args.frames)
            seqs.append(Sequence(f"seq{s:03d}", [f"{i:04d}.jpg" for i in range(args.frames)], gt,
                                 attributes={"tags": ["SV"] if s % 2 else ["OCC"], "scale_change": 1 + s % 4}))
        t0 = time.perf_counter()
        for t in range(args.trackers):
            for seq in seqs:
                noise = rng.normal(0, 3 + t, seq.boxes.shape) * np.array([1, 1, 0.3, 0.3])
                write_otb(tmp / "otb" / f"tracker{t}" / f"{seq.name}.txt", seq.boxes + noise)
        t_write = time.perf_counter() - t0
        t0 = time.perf_counter()
        res = evaluate_otb(tmp / "otb", seqs)
        t_otb = time.perf_counter() - t0
        best = max(res.values(), key=lambda r: r.success_auc)
        print(f"OTB: wrote {args.trackers * args.sequences} files in {t_write:.2f} s")
        print(f"OTB: evaluate_otb on {args.sequences} sequences x {args.trackers} trackers x {args.frames} frames: "
              f"{t_otb:.3f} s (best {best.tracker} AUC {best.success_auc:.3f})")

        # ---------------- VOT ----------------
        vseqs = []
        for s in range(args.sequences):
            box = random_walk_boxes(rng, args.frames)
            poly = rotated_polygons(box, rng)
            vseqs.append(Sequence(f"vseq{s:03d}", [f"{i:08d}.jpg" for i in range(args.frames)], box, polygons=poly,
                                  attributes={"image_size": (480, 360)}))
        t0 = time.perf_counter()
        for t in range(args.trackers):
            for seq in vseqs:
                for r in range(args.vot_runs):
                    traj = simulate_vot_run(seq.polygons, (480, 360), rng, 0.5 + 0.3 * t)
                    write_vot(tmp / "vot" / f"tracker{t}" / "baseline" / seq.name / f"{seq.name}_{r + 1:03d}.txt",
                                     traj)
        t_write = time.perf_counter() - t0
        t0 = time.perf_counter()
        vres = evaluate_vot_trackers(tmp / "vot", vseqs, "VOT2016")
        t_vot = time.perf_counter() - t0
        best = max(vres.items(), key=lambda kv: kv[1]["eao"])
        print(f"VOT: wrote {args.trackers * args.sequences * args.vot_runs} files in {t_write:.2f} s")
        print(f"VOT: evaluate_vot_trackers (A, R, EAO) on {args.sequences} sequences x {args.trackers} trackers x "
              f"{args.vot_runs} run(s) x {args.frames} frames: {t_vot:.3f} s "
              f"(best {best[0]} EAO {best[1]['eao']:.3f}, failures {best[1]['failures']:.0f})")
        print(f"seconds: evaluate_otb={t_otb:.3f} evaluate_vot={t_vot:.3f}")


if __name__ == "__main__":
    main()
