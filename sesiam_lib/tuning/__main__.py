"""``python -m sesiam_lib.tuning``: tune a tracker's hyper-parameters on a validation set (see the package doc).

Exit status: 0 done, 2 bad input (data folder, model, checkpoint, storage URL; the message says what), 1 other
errors.
"""

from __future__ import annotations

import argparse
import json
import sys

from .objective import DATASETS, METRICS, TuningError


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m sesiam_lib.tuning",
        description="Tune a SiamFC tracker's scale_step, scale_lr, scale_penalty and w_influence (Optuna TPE) on a "
                    "validation set. Resumable: re-running continues the study; --trials is the study's target of "
                    "completed trials. Several processes or machines share a study through --storage.")
    p.add_argument("--model", required=True, help="model name (sesiam_lib.models.list_models())")
    p.add_argument("--checkpoint", default=None, help="weights to load (default: random init)")
    p.add_argument("--data", required=True, help="validation set: a GOT-10k-layout split folder (e.g. "
                   "<synthetic set>/val) or dataset root; an OTB folder; a VOT folder")
    p.add_argument("--dataset", choices=DATASETS, default="got10k", help="layout of --data (default got10k)")
    p.add_argument("--split", default="val", help="split when --data is a GOT-10k-layout root (default val)")
    p.add_argument("--trials", type=int, required=True, help="completed trials the study should hold")
    p.add_argument("--study", default=None, help="study name (default <model>-<dataset>-<metric>)")
    p.add_argument("--storage", default=None, help="SQLAlchemy URL or SQLite file (default <out>/study.db)")
    p.add_argument("--out", required=True, help="output folder: best_params.json, trials.csv, figures")
    p.add_argument("--seed", type=int, default=0, help="sampler seed (default 0)")
    p.add_argument("--metric", choices=METRICS, default=None,
                   help="auc (OTB success AUC), ao (GOT-10k), eao (VOT); default by --dataset: ao, auc, eao")
    p.add_argument("--workers", type=int, default=1, help="local worker processes sharing the study")
    p.add_argument("--sequences", type=int, default=None, help="tune on the first N sequences only")
    p.add_argument("--max-frames", type=int, default=None, help="tune on the first F frames of each sequence")
    p.add_argument("--tune-num-scales", action="store_true", help="also search the pyramid size (3 or 5 scales)")
    p.add_argument("--device", default=None, help="cpu, cuda (default: CUDA when available)")
    p.add_argument("--threads", type=int, default=None, help="torch threads per worker (default: cores / workers)")
    p.add_argument("--heartbeat", type=int, default=60,
                   help="seconds between trial heartbeats; a dead worker's trials are retried after 2x this")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from .study import tune

    try:
        record = tune(args.model, args.data, out=args.out, checkpoint=args.checkpoint, dataset=args.dataset,
                      split=args.split, trials=args.trials, study=args.study, storage=args.storage, seed=args.seed,
                      metric=args.metric, workers=args.workers, sequences=args.sequences,
                      max_frames=args.max_frames, tune_num_scales=args.tune_num_scales, device=args.device,
                      progress=not args.no_progress, heartbeat_interval=args.heartbeat,
                      threads=args.threads)
    except TuningError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    keys = ("scale_step", "scale_lr", "scale_penalty", "w_influence", "num_scales", "value", "baseline_value",
            "trials")
    print(json.dumps({k: record[k] for k in keys if k in record}))
    print(f"wrote {args.out}/best_params.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
