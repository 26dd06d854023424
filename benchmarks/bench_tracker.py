"""Speed of the whole tracker (crops, network, post-processing) for SiamFC+ and SE-SiamFC, full and tiny.

For every model (random weights: speed does not depend on them) and device, tracks a synthetic 480 x 360 scene
(a textured target moving and growing over a noisy background) and prints frames/s of ``update`` and the time
split between cropping the pyramid, the network (``template`` is cached once per ``init``; ``track`` on the
3-scale batch, with the device synchronised) and post-processing (bicubic upsampling of the 3 maps, penalties,
window, argmax, state update). Post-processing must stay a small share of the network time.

CPU runs use ``--threads`` threads (2 by default, the CI machine). CUDA runs happen when a GPU is present.

Usage: ``python benchmarks/bench_tracker.py [--frames 20] [--threads 2] [--models ...] [--no-reference]
[--upsample cv2|torch|matrix]``
"""

from __future__ import annotations

import argparse
import time

import cv2
import numpy as np
import torch

from sesiam_lib.models import build_model
from sesiam_lib.tracking import SiamFCTracker

MODELS = ("siamfc_resnet22", "se_siamfc_resnet22", "siamfc_tiny", "se_siamfc_tiny")


def make_scene(n: int, size=(360, 480), seed: int = 0):
    rng = np.random.default_rng(seed)
    bg = cv2.GaussianBlur(rng.integers(0, 256, (*size, 3)).astype(np.uint8), (0, 0), 3)
    tex = rng.integers(0, 256, (12, 12, 3)).astype(np.uint8)
    frames, boxes = [], []
    for t in range(n):
        side = 48 * 1.01 ** t
        x, y = 150 + 3 * t, 120 + 2 * t
        f = bg.copy()
        patch = cv2.resize(tex, (int(side), int(side)), interpolation=cv2.INTER_NEAREST)
        f[int(y):int(y) + patch.shape[0], int(x):int(x) + patch.shape[1]] = patch
        frames.append(f)
        boxes.append([x, y, side, side])
    return frames, np.array(boxes, dtype=np.float64)


def bench(model_name: str, device: str, frames, boxes, fast: bool, upsample: str, warmup: int = 2) -> dict:
    torch.manual_seed(0)
    model = build_model(model_name).eval()
    tracker = SiamFCTracker.from_benchmark(model, model_name, "OTB2015", device=device, fast=fast, debug=False,
                                           upsample=upsample)
    if fast and tracker.net is tracker.model:
        note = f"(fast path unavailable: {tracker.fast_fallback})"
    else:
        note = ""
    tracker.init(frames[0], boxes[0])
    for f in frames[1:1 + warmup]:  # warm-up (allocator, cuDNN autotuning, first-call overheads)
        tracker.update(f)
    tracker.init(frames[0], boxes[0])
    parts = {"crop": 0.0, "network": 0.0, "post": 0.0}
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    for f in frames[1:]:
        tracker.update(f)
        for k, v in tracker.last_debug["timings"].items():
            parts[k] += v
    total = time.perf_counter() - start
    n = len(frames) - 1
    return {"fps": n / total, "ms": {k: 1e3 * v / n for k, v in parts.items()}, "total_ms": 1e3 * total / n,
            "note": note}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=20, help="tracked frames per model (after 2 warm-up frames)")
    ap.add_argument("--threads", type=int, default=2, help="CPU threads (torch.set_num_threads)")
    ap.add_argument("--models", nargs="*", default=list(MODELS))
    ap.add_argument("--devices", nargs="*", default=None, help="default: cpu, plus cuda when available")
    ap.add_argument("--no-reference", action="store_true", help="skip the reference (non-fast) model path")
    ap.add_argument("--upsample", default=None, choices=["cv2", "torch", "matrix"],
                    help="score-map upsampling (default: cv2 on CPU, torch on CUDA)")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    devices = args.devices or (["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    frames, boxes = make_scene(args.frames + 1)
    print(f"torch {torch.__version__}, {args.threads} CPU threads, {args.frames} frames of 480x360")
    if torch.cuda.is_available():
        print(f"CUDA device: {torch.cuda.get_device_name(0)}")
    header = f"{'model':<20} {'device':<6} {'path':<9} {'fps':>8} {'crop ms':>8} {'net ms':>9} {'post ms':>8} {'post/net':>9}"
    print(header)
    print("-" * len(header))
    for device in devices:
        for name in args.models:
            paths = [True] if args.no_reference else [True, False]
            for fast in paths:
                # the full SE model on the reference path is slow on CPU: fewer frames suffice there
                n = args.frames if (fast or device != "cpu" or "tiny" in name) else min(args.frames, 4)
                up = args.upsample or ("torch" if device.startswith("cuda") else "cv2")
                r = bench(name, device, frames[: n + 1], boxes, fast, up)
                ms = r["ms"]
                print(f"{name:<20} {device:<6} {'fast' if fast else 'reference':<9} {r['fps']:8.1f} "
                      f"{ms['crop']:8.2f} {ms['network']:9.2f} {ms['post']:8.2f} "
                      f"{ms['post'] / max(ms['network'], 1e-9):9.3f} {r['note']}")


if __name__ == "__main__":
    main()
