"""`make reproduce`: the comparison of every table cell with the committed reference, and its verdict."""

from __future__ import annotations

import csv
import subprocess
import sys

import pytest

from sesiam_lib.pipeline.reproduce import compare_runs


def write_csv(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        csv.writer(handle).writerows(rows)


@pytest.fixture
def runs(tmp_path):
    ref, now = tmp_path / "ref", tmp_path / "now"
    for root in (ref, now):
        write_csv(root / "benchmark" / "table.csv", [["Tracker", "S-MNIST AUC", "fps"],
                                                     ["SiamFC+ tiny", "0.571 ± 0.004", "30.0"],
                                                     ["SE-SiamFC tiny", "0.503 ± 0.032", "10.0"]])
        write_csv(root / "equivariance" / "layers.csv", [["layer", "error"], ["stem", "0.0022"]])
        write_csv(root / "tracking" / "S" / "probe_trials.csv", [["trial", "x"], ["1", "5"]])
    # a tuning study's raw trials: rows keyed by worker process and start time, never the same twice
    write_csv(ref / "tuning" / "S" / "m_s0" / "trials.csv", [["worker", "value"], ["vm:101 / 10:00", "0.5"]])
    write_csv(now / "tuning" / "S" / "m_s0" / "trials.csv", [["worker", "value"], ["vm:202 / 11:00", "0.5"]])
    return ref, now


def test_identical_runs_are_reproduced(runs):
    ref, now = runs
    comparison = compare_runs(ref, now)
    assert comparison.reproduced and "reproduced" in comparison.verdict()
    # every numeric cell is listed (mean and std of "a ± b" separately); raw trial tables are not compared
    assert len(comparison.cells) == 2 * 3 + 1
    assert {c.column for c in comparison.cells} >= {"S-MNIST AUC (mean)", "S-MNIST AUC (std)", "fps", "error"}
    assert all(c.difference == 0 for c in comparison.cells)


def test_a_cell_outside_its_tolerance_is_named(runs):
    ref, now = runs
    write_csv(now / "benchmark" / "table.csv", [["Tracker", "S-MNIST AUC", "fps"],
                                                ["SiamFC+ tiny", "0.571 ± 0.004", "99.0"],  # timing: not judged
                                                ["SE-SiamFC tiny", "0.540 ± 0.032", "10.0"]])  # +0.037 > 0.02
    comparison = compare_runs(ref, now)
    assert not comparison.reproduced and comparison.verdict().startswith("NOT reproduced")
    [bad] = comparison.failures
    assert (bad.table, bad.row, bad.column) == ("benchmark/table.csv", "SE-SiamFC tiny", "S-MNIST AUC (mean)")
    assert bad.difference == pytest.approx(0.037)
    text = comparison.to_markdown()
    assert "| SE-SiamFC tiny | S-MNIST AUC (mean) | 0.503 | 0.54 | +0.037 | NO |" in text
    assert "(not judged)" in text
    # within the tracking tolerance (0.02) passes
    write_csv(now / "benchmark" / "table.csv", [["Tracker", "S-MNIST AUC", "fps"],
                                                ["SiamFC+ tiny", "0.581 ± 0.004", "30.0"],
                                                ["SE-SiamFC tiny", "0.503 ± 0.032", "10.0"]])
    assert compare_runs(ref, now).reproduced


def test_random_layer_equivariance_is_judged_tightly_and_missing_work_fails(runs):
    ref, now = runs
    write_csv(now / "equivariance" / "layers.csv", [["layer", "error"], ["stem", "0.0023"]])  # +4.5 %
    assert [c.row for c in compare_runs(ref, now).failures] == ["stem"]
    (now / "equivariance" / "layers.csv").unlink()
    comparison = compare_runs(ref, now)
    assert comparison.missing_tables == ["equivariance/layers.csv"] and not comparison.reproduced
    write_csv(now / "equivariance" / "layers.csv", [["layer", "error"], ["other", "0.0022"]])
    assert [c.now for c in compare_runs(ref, now).failures] == [None]  # a row that vanished is a failure


@pytest.mark.slow
def test_reproduce_smoke_preset_twice_gives_identical_tables(tmp_path):
    """The smoke preset, computed twice from nothing on one machine with the locked versions: every cell equal."""
    common = [sys.executable, "-m", "sesiam_lib.pipeline.reproduce", "--preset", "smoke",
              "--reference-root", str(tmp_path / "reference")]
    first = subprocess.run(common + ["--out-root", str(tmp_path / "a"), "--update-reference"], capture_output=True,
                           text=True, timeout=1200)
    assert first.returncode == 0, first.stderr[-3000:]
    assert (tmp_path / "reference" / "smoke" / "benchmark" / "table.csv").is_file()
    assert "no reference yet" in first.stdout  # the first run had nothing to compare with
    second = subprocess.run(common + ["--out-root", str(tmp_path / "b")], capture_output=True, text=True,
                            timeout=1200)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert "reproduce: reproduced" in second.stdout
    report = (tmp_path / "b" / "results" / "smoke" / "README.md").read_text()
    assert "## Reproduction check" in report and "| NO |" not in report
    cells = list(csv.DictReader(open(tmp_path / "b" / "results" / "smoke" / "reproduction_cells.csv")))
    judged = [c for c in cells if c["judged"] == "True"]
    assert len(judged) > 50 and all(float(c["difference"]) == 0.0 for c in judged)
    # a reference that differs is reported, with exit status 1, and left untouched
    table = tmp_path / "reference" / "smoke" / "benchmark" / "table.csv"
    rows = list(csv.reader(open(table)))
    rows[1][1] = f"{float(rows[1][1].split()[0]) + 0.5:.3f}"
    write_csv(table, rows)
    third = subprocess.run(common + ["--out-root", str(tmp_path / "b")], capture_output=True, text=True, timeout=600)
    assert third.returncode == 1 and "NOT reproduced: 1 of" in third.stdout
    assert list(csv.reader(open(table))) == rows
