"""Issue #18: tracking speed of the scale head (one search crop) vs the 3-scale pyramid, and the error of its direct
scale estimate.

1. **Speed**, in one run: tracker frames/s (``SiamFCTracker.update``: crop, network, post-processing; fast inference
   path, ``debug=False``) of ``siamfc_tiny`` (pyramid, 3 crops), ``se_siamfc_tiny`` (pyramid, 3 crops) and
   ``se_siamfc_tiny`` with ``head="scale"`` (one crop), in interleaved rounds (every round runs each tracker over the
   same frames, so load on a shared machine hits all three alike); median frames/s over the rounds, and the ratio
   scale head / pyramid SE (target >= 2.5x). Random weights: speed does not depend on them.
2. **Scale estimate**: a head="scale" tracker (``--checkpoint``: a training checkpoint of a head="scale" model, e.g.
   ``runs/scale_head_v2/train/S-MNIST/se_siamfc_tiny-scalehead_s0/checkpoints/best.pth``; without one, RANDOM
   weights, which only shows the machinery) is initialised on frame 0 of each sequence, then placed on the true
   centre of later frames with a size estimate off by a known factor (``tracker.place``: true box / f), so the target
   appears f times larger in the search crop than expected; one ``update`` with ``scale_penalty = 1`` and
   ``scale_lr = 1`` gives the direct estimate (``last_debug["scale_factor"]``), to be compared with f. Reported per f:
   the median estimate and the mean |log2(estimate / f)|; over all trials, the least-squares slope of log(estimate)
   on log(f) (1: the head reads scale exactly; 0: it is blind to it).

Usage::

    python benchmarks/bench_scale_head.py                                   # speed + random-weight estimate
    python benchmarks/bench_scale_head.py --checkpoint runs/.../best.pth --data runs/scale_head_v2/data/S-MNIST/val
    python benchmarks/bench_scale_head.py --rounds 5 --frames 40 --threads 1 --json out.json
    python benchmarks/bench_scale_head.py --skip-speed --checkpoint runs/.../*_s[0-4]/checkpoints/best.pth \
        --data runs/scale_head_v2/data/S-MNIST/test --estimate-sequences 20   # one line per seed + mean +- sd

Several ``--checkpoint`` files (e.g. the seeds of one arm) are measured one after the other on the same frames and
factors; the slope and the per-factor errors are then summarised over them (mean, sample standard deviation).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from sesiam_lib.models import build_model, checkpoint_model_options, load_checkpoint
from sesiam_lib.tracking import SiamFCTracker

ARMS = [("siamfc_tiny (pyramid)", "siamfc_tiny", {}), ("se_siamfc_tiny (pyramid)", "se_siamfc_tiny", {}),
        ("se_siamfc_tiny head=scale (1 crop)", "se_siamfc_tiny", {"head": "scale"})]


def _frames(n: int, seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    """A 192x192 textured frame sequence with a bright square drifting and growing (about S-MNIST's sizes)."""
    rng = np.random.default_rng(seed)
    background = (rng.random((24, 24, 3)) * 255).astype(np.uint8)
    background = np.kron(background, np.ones((8, 8, 1), np.uint8))
    frames = []
    for i in range(n + 1):
        img = background.copy()
        side = int(round(30 * 1.01 ** i))
        x0, y0 = 70 + i % 20, 60 + (2 * i) % 30
        img[y0:y0 + side, x0:x0 + side] = (230, 200, 40)
        frames.append(img)
    side = 30
    return frames, np.array([70, 60, side, side], dtype=np.float64)


def speed(rounds: int, n_frames: int) -> dict:
    frames, box = _frames(n_frames)
    trackers = {}
    for label, name, options in ARMS:
        torch.manual_seed(0)
        model = build_model(name, score_adjust=True, **options)
        trackers[label] = SiamFCTracker.from_benchmark(model, device="cpu", debug=False)
    fps = {label: [] for label in trackers}
    for r in range(rounds + 1):  # round 0: warm-up, not counted
        for label, tracker in trackers.items():
            tracker.init(frames[0], box)
            start = time.perf_counter()
            for frame in frames[1:]:
                tracker.update(frame)
            if r:
                fps[label].append(n_frames / (time.perf_counter() - start))
    return {label: {"median_fps": statistics.median(v), "all_fps": v} for label, v in fps.items()}


def _sequences(data: str | None, tmp: Path):
    from sesiam_lib.data import generate_synthetic
    from sesiam_lib.data.got10k import load_got10k

    if data is None:
        root = tmp / "smnist"
        generate_synthetic(root, kind="S-MNIST", split="val", num_sequences=4, num_frames=30, seed=123,
                           progress=False)
        data = str(root / "val")
    return load_got10k(Path(data), None)


def scale_estimate(checkpoint: str | None, data: str | None, factors, frames_per_sequence: int,
                   max_sequences: int, model_name: str = "se_siamfc_tiny") -> dict:
    torch.manual_seed(0)
    options = checkpoint_model_options({"head": "scale"}, checkpoint) if checkpoint else {"head": "scale"}
    model = build_model(model_name, **options)
    if checkpoint:
        load_checkpoint(model, checkpoint)
    tracker = SiamFCTracker.from_benchmark(model, device="cpu", debug=True, scale_penalty=1.0, scale_lr=1.0)
    rng = np.random.default_rng(0)
    estimates = {f: [] for f in factors}
    with tempfile.TemporaryDirectory() as tmp:
        for seq in _sequences(data, Path(tmp))[:max_sequences]:
            boxes = np.asarray(seq.boxes, dtype=np.float64)
            valid = np.flatnonzero((boxes[1:, 2] > 0) & (boxes[1:, 3] > 0)) + 1
            chosen = np.sort(rng.choice(valid, size=min(frames_per_sequence, len(valid)), replace=False))
            tracker.init(seq.image(0), boxes[0])
            for frame in chosen:
                image = seq.image(int(frame))
                x, y, w, h = boxes[frame]
                cx, cy = x + w / 2, y + h / 2
                for f in factors:  # size estimate = true / f: the target looks f times larger than expected
                    tracker.place([cx - w / f / 2, cy - h / f / 2, w / f, h / f])
                    tracker.update(image)
                    estimates[f].append(tracker.last_debug["scale_factor"])
    out = {}
    for f, est in estimates.items():
        est = np.asarray(est)
        out[f] = {"median_estimate": float(np.median(est)),
                  "mean_abs_log2_error": float(np.mean(np.abs(np.log2(est / f)))), "trials": int(est.size)}
    # least-squares slope of log(estimate) on log(true factor) over every trial: 1 reads scale exactly, 0 is blind
    logs_f = np.concatenate([np.full(len(v), np.log(f)) for f, v in estimates.items()])
    logs_e = np.log(np.concatenate([np.asarray(v) for v in estimates.values()]))
    slope = float(np.polyfit(logs_f, logs_e, 1)[0]) if np.ptp(logs_f) > 0 else float("nan")
    return {"weights": checkpoint or "random", "model": model_name, "scale_ratio": model.scale_ratio,
            "factors": out, "log_slope": slope}


def report_speed(rounds: int, frames: int, threads: int) -> dict:
    print(f"speed: {rounds} interleaved rounds x {frames} frames, {threads} thread(s), fast path")
    result = {"speed": speed(rounds, frames)}
    for label, v in result["speed"].items():
        print(f"  {label:38s} {v['median_fps']:7.1f} frames/s   (rounds: "
              + ", ".join(f"{x:.1f}" for x in v["all_fps"]) + ")")
    ratio = (result["speed"][ARMS[2][0]]["median_fps"] / result["speed"][ARMS[1][0]]["median_fps"])
    ratio_plain = (result["speed"][ARMS[2][0]]["median_fps"] / result["speed"][ARMS[0][0]]["median_fps"])
    result["ratio_scale_head_vs_pyramid_se"] = ratio
    result["ratio_scale_head_vs_pyramid_plain"] = ratio_plain
    print(f"  scale head / pyramid SE: {ratio:.2f}x (target >= 2.5x); scale head / pyramid SiamFC+: {ratio_plain:.2f}x")
    return result


def report_estimate(checkpoint: str | None, args) -> dict:
    est = scale_estimate(checkpoint, args.data, args.factors, args.estimate_frames, args.estimate_sequences,
                         args.model)
    note = "" if checkpoint else "  (RANDOM weights: shows the machinery only, not the head's accuracy)"
    print(f"direct scale estimate, weights: {est['weights']}, basis ratio {est['scale_ratio']:.3f}{note}")
    for f, v in est["factors"].items():
        print(f"  true factor {f:5.3f}: median estimate {v['median_estimate']:5.3f}, mean |log2 error| "
              f"{v['mean_abs_log2_error']:.3f} ({v['trials']} trials)")
    print(f"  log-log slope of the estimate on the true factor: {est['log_slope']:.3f} (1: reads scale exactly, "
          "0: blind)")
    return est


def summarise_estimates(estimates: list[dict]) -> dict:
    """Over several checkpoints (e.g. seeds): the slope's mean, sample sd and range, and per true factor the mean
    over checkpoints of the median estimate and of the mean |log2 error|."""
    slopes = np.asarray([e["log_slope"] for e in estimates], dtype=np.float64)
    summary = {"n": int(slopes.size), "log_slope_mean": float(slopes.mean()), "log_slope_sd": float(slopes.std(ddof=1)),
               "log_slope_min": float(slopes.min()), "log_slope_max": float(slopes.max()), "factors": {}}
    print(f"over {summary['n']} checkpoints (mean, sd over checkpoints):")
    for f in estimates[0]["factors"]:
        medians = [e["factors"][f]["median_estimate"] for e in estimates]
        errors = [e["factors"][f]["mean_abs_log2_error"] for e in estimates]
        summary["factors"][f] = {"median_estimate_mean": float(np.mean(medians)),
                                 "mean_abs_log2_error_mean": float(np.mean(errors)),
                                 "mean_abs_log2_error_sd": float(np.std(errors, ddof=1))}
        print(f"  true factor {f:5.3f}: median estimate {np.mean(medians):5.3f}, mean |log2 error| "
              f"{np.mean(errors):.3f} +- {np.std(errors, ddof=1):.3f}")
    print(f"  log-log slope: {summary['log_slope_mean']:.3f} +- {summary['log_slope_sd']:.3f} (sd), "
          f"range {summary['log_slope_min']:.3f} .. {summary['log_slope_max']:.3f}")
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--checkpoint", nargs="+", default=[None],
                        help="training checkpoint(s) of the model, tracked through head=scale (several: one per seed)")
    parser.add_argument("--model", default="se_siamfc_tiny", help="the checkpoint's model (scale estimate)")
    parser.add_argument("--data", default=None, help="GOT-10k-layout split folder (default: 4 generated S-MNIST)")
    parser.add_argument("--factors", type=float, nargs="+", default=[1 / 1.4, 1 / 1.18, 1.0, 1.18, 1.4])
    parser.add_argument("--estimate-frames", type=int, default=3, help="frames per sequence for the estimate")
    parser.add_argument("--estimate-sequences", type=int, default=4)
    parser.add_argument("--skip-estimate", action="store_true")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    result = {}
    if not args.skip_speed:
        result.update(report_speed(args.rounds, args.frames, args.threads))
    if not args.skip_estimate:
        result["scale_estimate"] = [report_estimate(checkpoint, args) for checkpoint in args.checkpoint]
        if len(args.checkpoint) > 1:
            result["summary"] = summarise_estimates(result["scale_estimate"])
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
