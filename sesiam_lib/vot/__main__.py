"""``python -m sesiam_lib.vot --model NAME [--checkpoint PATH] [--benchmark VOT2016|VOT2017]``: a TraX server for
the VOT toolkit (see :mod:`sesiam_lib.vot`)."""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m sesiam_lib.vot",
        description="TraX server (VOT toolkit integration) around the released SiamFC tracker.",
    )
    p.add_argument("--model", required=True, help="a sesiam_lib.models.build_model name (se_siamfc_resnet22, ...)")
    p.add_argument("--checkpoint", default=None, help="checkpoint to load (default: none, random weights)")
    p.add_argument("--benchmark", default="VOT2017",
                   help="whose released hyper-parameters to use: VOT2016 or VOT2017 (default)")
    p.add_argument("--device", default="auto", help="auto (default: CUDA when available, as run_vot), cuda or cpu")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--log", default=None, help="TraX log file (default: no log)")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from .trax_server import import_trax, serve

    try:
        import_trax()
    except ImportError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from ..tracking import TrackerFactory

    device = None if args.device == "auto" else args.device
    factory = TrackerFactory(args.model, checkpoint=args.checkpoint, benchmark=args.benchmark, device=device)
    if args.threads:
        import torch

        torch.set_num_threads(int(args.threads))
    try:
        tracker = factory()  # built before the TraX handshake: a bad model name or checkpoint fails at startup
    except Exception as e:  # noqa: BLE001 - reported to the toolkit's log as one line, not a traceback
        print(f"error: cannot build the tracker: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    serve(tracker, log=args.log or False, name=f"sesiam_lib:{args.model}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
