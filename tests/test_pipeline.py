"""The papermill pipeline: matrix expansion, parameters, resume, and failure reports naming the cell."""

import json

import nbformat
from pathlib import Path

import pytest
import yaml

from sesiam_lib.pipeline import expand_steps, load_preset, run_pipeline
from sesiam_lib.pipeline.runner import _portable_path, available_presets, parse_override, step_keys


def write_notebook(path, body, parameters="value = 1\nextra = 0\nrun_name = ''\nresults_root = ''\nwork_root = ''"):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(parameters)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params] + [nbformat.v4.new_code_cell(code) for code in body]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))


def test_expand_matrix_and_precedence():
    preset = {"parameters": {"seed": 0, "lr": 1}, "steps": [
        {"notebook": "a.ipynb"},
        {"notebook": "b.ipynb", "name": "b_{model}_{seed}", "parameters": {"lr": 2},
         "matrix": {"model": ["x", "y"], "seed": [0, 1]}}]}
    steps = expand_steps(preset, {"lr": 3})
    assert [s.name for s in steps] == ["a", "b_x_0", "b_x_1", "b_y_0", "b_y_1"]
    assert all(s.parameters["lr"] == 3 for s in steps)
    assert steps[2].parameters["seed"] == 1 and steps[2].parameters["model"] == "x"
    assert expand_steps(preset)[1].parameters["lr"] == 2
    with pytest.raises(ValueError, match="duplicate"):
        expand_steps({"steps": [{"notebook": "b.ipynb", "matrix": {"m": [1, 2]}, "name": "same"}]})


def test_parse_override():
    assert parse_override("seeds=[0, 1]") == ("seeds", [0, 1])
    assert parse_override("name=abc") == ("name", "abc")
    with pytest.raises(ValueError, match="key=value"):
        parse_override("oops")


def test_shipped_presets_parse():
    names = available_presets()
    for required in ("smoke", "tmnist_smnist", "tmnist_smnist_3seeds", "paper", "released"):
        assert required in names
    for name in names:
        assert expand_steps(load_preset(name))


@pytest.mark.slow
def test_run_resume_and_failure_report(tmp_path):
    notebooks = tmp_path / "nb"
    notebooks.mkdir()
    write_notebook(notebooks / "ok.ipynb", [
        "from pathlib import Path\n(Path(results_root) / run_name / f'out_{value}.md').write_text(f'| v |\\n|---|\\n| {value} |')"])
    write_notebook(notebooks / "bad.ipynb", ["x = 1", "raise ValueError('broken on purpose')"])
    preset = tmp_path / "p.yaml"
    preset.write_text(yaml.safe_dump({"steps": [
        {"notebook": "ok.ipynb", "name": "ok_{value}", "matrix": {"value": [1, 2]}},
        {"notebook": "bad.ipynb"}]}))
    results = tmp_path / "results"
    # cell 3 of the executed notebook: parameters (0), papermill's injected parameters (1), x = 1 (2), raise (3)
    with pytest.raises(Exception, match=r"bad.ipynb.*cell 3 of the executed notebook.*ValueError: broken on purpose"):
        run_pipeline(str(preset), results_root=results, work_root=tmp_path / "work", run_name="r",
                     notebooks_dir=notebooks)
    run_dir = results / "r"
    summary = (run_dir / "README.md").read_text()
    assert "FAILED" in summary and "bad.ipynb" in summary and "cell 3" in summary
    assert "| 2 |" in summary  # tables written by the notebooks are gathered into the summary
    state = json.loads((run_dir / "pipeline_state.json").read_text())
    assert state["steps"]["ok_1"]["status"] == "done" and state["steps"]["bad"]["status"] == "failed"
    # fix the notebook; a re-run resumes: the finished steps are not executed again
    write_notebook(notebooks / "bad.ipynb", ["x = 1"])
    stamp = (run_dir / "ok_1.ipynb").stat().st_mtime_ns
    run_pipeline(str(preset), results_root=results, work_root=tmp_path / "work", run_name="r", notebooks_dir=notebooks)
    assert (run_dir / "ok_1.ipynb").stat().st_mtime_ns == stamp
    assert "Status: complete" in (run_dir / "README.md").read_text()
    # changed parameters invalidate the finished step
    run_pipeline(str(preset), overrides={"extra": 5}, results_root=results, work_root=tmp_path / "work",
                 run_name="r", notebooks_dir=notebooks)
    assert (run_dir / "ok_1.ipynb").stat().st_mtime_ns != stamp
    # so does a changed notebook source upstream: the step and every later one re-run, nothing else
    stamps = {name: (run_dir / f"{name}.ipynb").stat().st_mtime_ns for name in ("ok_1", "ok_2", "bad")}
    write_notebook(notebooks / "bad.ipynb", ["x = 2"])
    run_pipeline(str(preset), overrides={"extra": 5}, results_root=results, work_root=tmp_path / "work",
                 run_name="r", notebooks_dir=notebooks)
    changed = {name for name, st in stamps.items() if (run_dir / f"{name}.ipynb").stat().st_mtime_ns != st}
    assert changed == {"bad"}
    state = json.loads((run_dir / "pipeline_state.json").read_text())
    assert state["steps"]["bad"]["fields"]["upstream"] == state["steps"]["ok_2"]["key"]


def test_required_parameters(tmp_path):
    preset = tmp_path / "p.yaml"
    preset.write_text(yaml.safe_dump({"required": ["got10k_root"], "steps": [{"notebook": "x.ipynb"}]}))
    with pytest.raises(ValueError, match="got10k_root"):
        run_pipeline(str(preset), results_root=tmp_path)
    with pytest.raises(FileNotFoundError, match="unknown pipeline preset"):
        load_preset("no_such_preset")


def test_step_keys_chain_upstream_changes(tmp_path):
    for name in ("a", "b"):
        write_notebook(tmp_path / f"{name}.ipynb", ["x = 1"])
    preset = {"steps": [{"notebook": "a.ipynb", "parameters": {"value": 1}}, {"notebook": "b.ipynb"}]}
    keys = step_keys(expand_steps(preset), tmp_path)
    same = step_keys(expand_steps(preset), tmp_path)
    assert keys == same
    preset["steps"][0]["parameters"]["value"] = 2
    changed = step_keys(expand_steps(preset), tmp_path)
    assert changed["a"][0] != keys["a"][0] and changed["b"][0] != keys["b"][0]  # b depends on a
    write_notebook(tmp_path / "b.ipynb", ["x = 2"])
    edited = step_keys(expand_steps(preset), tmp_path)
    assert edited["a"] == changed["a"] and edited["b"][0] != changed["b"][0]


def test_step_keys_follow_the_package_source(tmp_path, monkeypatch):
    """A changed shipped training preset (or any package code) re-runs the steps, though the version is the same."""
    import sesiam_lib.pipeline.runner as runner
    from sesiam_lib.core.provenance import package_source_sha256

    write_notebook(tmp_path / "a.ipynb", ["x = 1"])
    preset = {"steps": [{"notebook": "a.ipynb"}]}
    keys = step_keys(expand_steps(preset), tmp_path)
    assert keys["a"][1]["package_sha256"] == package_source_sha256()
    monkeypatch.setattr(runner, "package_source_sha256", lambda: "0" * 64)
    assert step_keys(expand_steps(preset), tmp_path)["a"][0] != keys["a"][0]


def test_package_source_hash_covers_the_training_presets(tmp_path, monkeypatch):
    import shutil

    import sesiam_lib.core.provenance as provenance

    copy = tmp_path / "sesiam_lib"
    shutil.copytree(Path(provenance.__file__).resolve().parents[1], copy,
                    ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(provenance, "__file__", str(copy / "core" / "provenance.py"))
    provenance.package_source_sha256.cache_clear()
    try:
        before = provenance.package_source_sha256()
        preset = copy / "training" / "presets" / "synthetic_v2.yaml"
        preset.write_text(preset.read_text() + "\n# edited\n")
        provenance.package_source_sha256.cache_clear()
        assert provenance.package_source_sha256() != before
    finally:
        provenance.package_source_sha256.cache_clear()


def test_paths_inside_the_checkout_are_recorded_relative(tmp_path):
    root = tmp_path / "repo"
    assert _portable_path(root / "results", root / "notebooks", root) == "../results"
    assert _portable_path(tmp_path / "elsewhere", root / "notebooks", root) == str(tmp_path / "elsewhere")


def test_executed_notebooks_keep_no_machine_paths_of_the_checkout(tmp_path):
    from sesiam_lib.pipeline.runner import _strip_machine_paths, repo_root

    root = repo_root()
    out = tmp_path / "x.ipynb"
    out.write_text(json.dumps({"cells": [], "metadata": {"papermill": {
        "input_path": str(root / "notebooks" / "01_equivariance.ipynb"),
        "output_path": str(root / "runs" / "r" / "01.ipynb")}}, "nbformat": 4, "nbformat_minor": 5}))
    _strip_machine_paths(out, root / "notebooks")
    record = json.loads(out.read_text())["metadata"]["papermill"]
    assert record == {"input_path": "01_equivariance.ipynb", "output_path": "../runs/r/01.ipynb"}


def test_cell_outputs_keep_no_machine_paths(tmp_path):
    """Warnings name the module that raised them and tracebacks every frame: both are scrubbed before commit."""
    import sys

    from sesiam_lib.pipeline.runner import _strip_machine_paths, repo_root

    root = repo_root()
    warning = f"{root}/sesiam_lib/tracking/runners.py:12: UserWarning: slow\n"
    frame = f"File {sys.base_prefix}/lib/python3.11/warnings.py:3, in f()"
    out = tmp_path / "x.ipynb"
    out.write_text(json.dumps({"cells": [{"cell_type": "code", "source": "", "metadata": {}, "outputs": [
        {"output_type": "stream", "name": "stderr", "text": [warning, "plain line\n"]},
        {"output_type": "error", "ename": "E", "evalue": f"no file {root}/runs/a.pth", "traceback": [frame]},
        {"output_type": "execute_result", "data": {"text/plain": f"'{root}/results'", "image/png": "AAAA"},
         "metadata": {}, "execution_count": 1}]}],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    _strip_machine_paths(out, root / "notebooks")
    text = out.read_text()
    assert str(root) not in text
    outputs = json.loads(text)["cells"][0]["outputs"]
    assert outputs[0]["text"] == ["sesiam_lib/tracking/runners.py:12: UserWarning: slow\n", "plain line\n"]
    assert outputs[1]["evalue"] == "no file runs/a.pth"
    if not (sys.base_prefix + "/").startswith(str(root) + "/"):
        assert outputs[1]["traceback"] == ["File <python>/lib/python3.11/warnings.py:3, in f()"]
    assert outputs[2]["data"] == {"text/plain": "'results'", "image/png": "AAAA"}
