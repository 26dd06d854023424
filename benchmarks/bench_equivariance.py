"""Prints the measured scale-equivariance error of SE-SiamFC's layer configurations (random weights).

Protocol of FACTS §8: four natural photographs (scikit-image samples) at 192 px, downscale ratio 1.4, bilinear
antialiased resize, 20 % border crop per side (also 0 % to show the padding effect). The release's reference
figures are printed beside ours.
"""

import argparse
import time

import torch

from sesiam_lib.sesn import natural_images
from sesiam_lib.sesn.checks import measure_reference_layers

RELEASE = {("stem Z2->H K9 E7", "constant"): 0.0023, ("stem Z2->H K9 E7", "circular"): 0.0042,
           ("middle Z2->H K5 E3", "constant"): 0.065, ("plain 7x7 zero-mean", "constant"): 0.31}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--size", type=int, default=192)
    args = parser.parse_args()
    images = natural_images(args.size).to(args.device)
    print(f"device={args.device} images={tuple(images.shape)} torch={torch.__version__}")
    print(f"{'layer':24s} {'padding':9s} {'border':>6s} {'error':>8s} {'release':>8s}")
    start = time.perf_counter()
    for border in (0.2, 0.0):
        for row in measure_reference_layers(images, border=border):
            ref = RELEASE.get((row["layer"], row["padding"])) if border == 0.2 else None
            print(f"{row['layer']:24s} {row['padding']:9s} {border:6.2f} {row['error']:8.4f} "
                  f"{(f'{ref:.4f}' if ref else '-'):>8s}")
    print(f"measured in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
