"""Data throughput: synthetic frames generated per second, and training pairs per second (0 and 2 workers).

    python benchmarks/bench_data.py [--sequences 10] [--frames 100] [--pairs 1000] [--root DIR]

Generates T-MNIST and S-MNIST train splits into a temporary folder (or ``--root``), times it (JPEG encoding
and file writes included), then times ``PairDataset`` through a ``DataLoader`` (batch 8) with the full-size
crops (127 / 255) and with small-model crops (63 / 127), first with OpenCV's default thread pool, then after
``cv2.setNumThreads(1)`` in the main process (much faster on small crops when torch's threads compete; set it in
the parent before the DataLoader forks: calling it inside a forked worker can hang).
"""

from __future__ import annotations

import argparse
import platform
import shutil
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

import cv2

from sesiam_lib.data import PairDataset, generate_synthetic, load_got10k


def bench_generation(root: Path, kind: str, sequences: int, frames: int) -> float:
    start = time.perf_counter()
    generate_synthetic(root, kind, "train", num_sequences=sequences, num_frames=frames, seed=0, progress=False)
    return sequences * frames / (time.perf_counter() - start)


def bench_pairs(seqs, pairs: int, workers: int, exemplar: int, instance: int, score: int) -> float:
    ds = PairDataset(seqs, exemplar, instance, score, 8, pairs_per_epoch=pairs, seed=0)
    loader = DataLoader(ds, batch_size=8, num_workers=workers, shuffle=False)
    start = time.perf_counter()
    n = 0
    for batch in loader:
        n += len(batch["label"])
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sequences", type=int, default=10)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--pairs", type=int, default=1000)
    parser.add_argument("--root", type=Path, default=None, help="keep the generated data here")
    args = parser.parse_args()
    root = args.root or Path(tempfile.mkdtemp(prefix="bench_data_"))
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} torch threads, {cv2.getNumThreads()} cv2 threads")
    try:
        for kind in ("T-MNIST", "S-MNIST"):
            target = root / kind
            if target.exists():
                shutil.rmtree(target)
            fps = bench_generation(target, kind, args.sequences, args.frames)
            print(f"generate {kind}: {args.sequences} x {args.frames} frames (192 px, JPEG q90): {fps:7.1f} frames/s")
        seqs = load_got10k(root / "S-MNIST", "train")
        for cv2_threads in (None, 1):
            if cv2_threads is not None:
                cv2.setNumThreads(cv2_threads)
            for exemplar, instance, score in ((127, 255, 17), (63, 127, 9)):
                for workers in (0, 2):
                    rate = bench_pairs(seqs, args.pairs, workers, exemplar, instance, score)
                    print(
                        f"pairs E={exemplar} I={instance} workers={workers} cv2 threads={cv2.getNumThreads()}: "
                        f"{rate:7.1f} pairs/s"
                    )
    finally:
        if args.root is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
