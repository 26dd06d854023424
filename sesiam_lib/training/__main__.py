"""``python -m sesiam_lib.training [--config FILE] [--preset NAME] [key=value ...]`` (also under torchrun)."""

from __future__ import annotations

import argparse
import logging
import sys

from .checkpointing import CheckpointError, CheckpointWriteError
from .config import ConfigError, config_to_dict, list_presets, load_config
from .trainer import TrainingDataError, TrainingDivergedError, train


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sesiam_lib.training",
        description="Train SiamFC+ / SE-SiamFC. Settings come from a preset, a YAML config file and key=value "
        "overrides (dotted keys for nested values, values parsed as YAML scalars), later ones winning.",
        epilog=f"presets: {', '.join(list_presets())}. Example: python -m sesiam_lib.training --preset smoke "
        "run_dir=runs/smoke optim.lr_start=1e-3",
    )
    parser.add_argument("--config", help="YAML config file (may name a preset with a 'preset:' key)")
    parser.add_argument("--preset", help="preset name (base layer)")
    parser.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    parser.add_argument("--list-presets", action="store_true", help="list the shipped presets and exit")
    parser.add_argument("overrides", nargs="*", metavar="key=value")
    args = parser.parse_args(argv)
    if args.list_presets:
        print("\n".join(list_presets()))
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    try:
        cfg = load_config(args.config, preset=args.preset, overrides=args.overrides)
        if args.print_config:
            import yaml

            print(yaml.safe_dump(config_to_dict(cfg.validate()), sort_keys=False), end="")
            return 0
        result = train(cfg)
    except (ConfigError, TrainingDataError, CheckpointError, CheckpointWriteError, TrainingDivergedError,
            FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"final checkpoint: {result.final_checkpoint}")
    print(f"logs: {result.log_steps} {result.log_epochs}")
    if result.stopped_early:
        print(f"stopped early after epoch {result.stop_epoch}: validation plateau (validation.patience)")
    if result.best_epoch is not None:
        print(f"best epoch: {result.best_epoch} (success AUC {result.best_metric:.4f}) -> {result.best_checkpoint}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
