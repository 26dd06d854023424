"""The compute-cost report (sesiam_lib.pipeline.cost): idle time between sessions is not counted, every kind of
record is read, the command line writes its report."""

from __future__ import annotations

import json

import pytest

from sesiam_lib.core.io import atomic_write_csv
from sesiam_lib.pipeline.cost import format_cost, log_segments, log_segments_seconds, main, run_cost
from sesiam_lib.pipeline.experiment import RunPaths

LOG = """\
2026-11-30 10:00:00,000 INFO training se_siamfc_tiny on cpu (1 process), 24 epochs x 62 steps x 8 pairs, run folder x
2026-11-30 10:01:00,000 INFO epoch 1: validation success AUC 0.6
2026-11-30 10:01:00,000 INFO paused here with SIGSTOP for 40 minutes
2026-11-30 10:41:00,000 INFO (a line written after the pause)
2026-11-30 10:42:00,500 INFO epoch 1/24: mean loss 0.9, lr 0.03, 0 skipped steps
Traceback (most recent call last):
KeyboardInterrupt
2026-11-30 14:00:00,000 INFO resumed from checkpoints/last.pth at epoch 1 step 0 (global step 62)
2026-11-30 14:00:00,000 INFO training se_siamfc_tiny on cpu (1 process), 24 epochs x 62 steps x 8 pairs, run folder x
2026-11-30 14:03:00,000 INFO training finished: final.pth
2026-11-30 18:00:00,000 INFO resumed from checkpoints/last.pth at epoch 12 step 0 (global step 682)
2026-11-30 18:00:00,010 INFO training se_siamfc_tiny on cpu (1 process), 24 epochs x 62 steps x 8 pairs, run folder x
2026-11-30 18:00:00,020 INFO the run stopped at its validation plateau after epoch 11: nothing to train
"""


def test_segments_leave_out_the_time_between_processes(tmp_path):
    log = tmp_path / "train.log"
    log.write_text(LOG)
    assert len(log_segments(log)) == 5  # a resuming process's two first lines each open one
    # 120.5 s in the first process (less its 40-minute pause), 180 s in the second, 0.01 s in a third that found
    # the run finished; the hours between them are not work
    assert log_segments_seconds(log) == pytest.approx(300.51)


def make_run(tmp_path):
    paths = RunPaths("demo", tmp_path / "results", tmp_path / "runs")
    run = paths.train_dir("S-MNIST", "se_siamfc_tiny", 0)
    run.mkdir(parents=True)
    (run / "train.log").write_text(LOG)
    atomic_write_csv(paths.tuning_results("S-MNIST") / "siamfc_tiny_s0" / "trials.csv",
                     [{"number": 0, "seconds": 10.0}, {"number": 1, "seconds": 20.5}, {"number": 2, "seconds": ""}])
    state = {"steps": {"02_training_S-MNIST_se_siamfc_tiny_s0": {"status": "done", "seconds": 9.0},
                       "05_tuning_S-MNIST": {"status": "done", "seconds": 31.0},
                       "03_tracking_S-MNIST": {"status": "done", "seconds": 600.0},
                       "04_benchmark": {"status": "not run"}}}
    (paths.results / "pipeline_state.json").write_text(json.dumps(state))
    return paths


def test_run_cost_reads_logs_trials_and_other_steps(tmp_path):
    cost = run_cost(make_run(tmp_path))
    assert cost["training"] == {"S-MNIST/se_siamfc_tiny_s0": pytest.approx(300.51)}
    assert cost["tuning"] == {"S-MNIST/siamfc_tiny_s0": pytest.approx(30.5)}
    # training and tuning steps are counted from their own records, not from their last execution's seconds
    assert cost["other steps"] == {"03_tracking_S-MNIST": 600.0}
    report = format_cost(cost, "demo")
    assert f"**{(300.51 + 30.5 + 600) / 3600:.2f}**" in report


def test_command_line_writes_the_report_and_names_a_missing_run(tmp_path, capsys):
    paths = make_run(tmp_path)
    args = ["--results-root", str(tmp_path / "results"), "--work-root", str(tmp_path / "runs")]
    assert main(["demo", *args, "--write"]) == 0
    assert "| training | 1 | 0.08 |" in (paths.results / "cost.md").read_text()
    assert main(["nosuch", *args]) == 1
    assert "no run 'nosuch'" in capsys.readouterr().err
