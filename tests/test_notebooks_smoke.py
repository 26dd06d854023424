"""Every notebook runs headless under papermill with the smoke preset, through the pipeline command."""

import json
import subprocess
import sys

import nbformat
import pytest

from sesiam_lib.pipeline.runner import repo_root


def test_every_notebook_has_a_parameters_cell_first():
    notebooks = sorted((repo_root() / "notebooks").glob("*.ipynb"))
    assert [p.name for p in notebooks] == ["01_equivariance.ipynb", "02_training.ipynb", "03_tracking.ipynb",
                                           "04_benchmark.ipynb", "05_tuning.ipynb"]
    for path in notebooks:
        nb = nbformat.read(str(path), as_version=4)
        assert "parameters" in nb.cells[0].metadata.get("tags", []), path.name
        assert all(not cell.get("outputs") for cell in nb.cells if cell.cell_type == "code"), \
            f"{path.name}: commit notebooks without outputs (make notebooks syncs them from their .py)"


@pytest.mark.slow
def test_smoke_pipeline_end_to_end(tmp_path):
    """python -m sesiam_lib.pipeline --preset smoke: all four notebooks, tables, figures and the summary."""
    results, work = tmp_path / "results", tmp_path / "work"
    command = [sys.executable, "-m", "sesiam_lib.pipeline", "--preset", "smoke", "--results-root", str(results),
               "--work-root", str(work)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    run = results / "smoke"
    for name in ["01_equivariance", "02_training_S-MNIST_siamfc_tiny_s0", "02_training_S-MNIST_se_siamfc_tiny_s0",
                 "03_tracking_S-MNIST", "04_benchmark", "05_equivariance_trained"]:
        nb = nbformat.read(str(run / f"{name}.ipynb"), as_version=4)
        errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, f"{name}: {errors[0]['ename']}"
    assert (run / "equivariance" / "equivariance_layers.csv").is_file()
    trained = (run / "equivariance_trained" / "equivariance_models.md").read_text()
    assert "SE-SiamFC tiny trained on S-MNIST" in trained and "SiamFC+ tiny (random init)" in trained
    assert not (run / "equivariance_trained" / "equivariance_layers.csv").exists()  # random_layers: false
    assert (run / "benchmark" / "table.md").read_text().count("|") > 6
    assert (run / "benchmark" / "table.tex").is_file() and (run / "benchmark" / "success_S-MNIST.png").is_file()
    assert (run / "tracking" / "S-MNIST" / "S-MNIST_test_0001.gif").is_file()
    state = json.loads((run / "pipeline_state.json").read_text())
    assert all(step["status"] == "done" for step in state["steps"].values())
    assert "Status: complete" in (run / "README.md").read_text()
    # a second run resumes: nothing is executed again
    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and again.stdout.count("skipped") == 6, again.stdout
