"""Command line: ``python -m sesiam_lib.pipeline --preset NAME [-p key=value ...]``."""

from __future__ import annotations

import argparse
import sys

from .runner import PipelineError, available_presets, parse_override, run_pipeline


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sesiam_lib.pipeline",
                                     description="Run the notebooks in order through papermill with a preset.")
    parser.add_argument("--preset", required=True, help=f"shipped preset ({', '.join(available_presets())}) or YAML path")
    parser.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                        help="override a notebook parameter (YAML value), for every notebook; repeatable")
    parser.add_argument("--run-name", help="results folder name (default: the preset's)")
    parser.add_argument("--results-root", help="where executed notebooks, tables and figures go (default results/)")
    parser.add_argument("--work-root", help="where checkpoints and generated data go (default runs/)")
    parser.add_argument("--only", action="append", help="run only steps whose name starts with this; repeatable")
    parser.add_argument("--force", action="store_true", help="re-run steps that already finished")
    args = parser.parse_args(argv)
    try:
        overrides = dict(parse_override(text) for text in args.param)
        run_dir = run_pipeline(args.preset, overrides, args.results_root, args.work_root, args.run_name, args.force,
                               only=args.only)
    except (PipelineError, FileNotFoundError, ValueError) as error:
        print(f"pipeline: {error}", file=sys.stderr)
        return 1
    print(f"pipeline: done; summary in {run_dir / 'README.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
