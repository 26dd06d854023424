"""Bad pipeline input fails before any kernel starts, with an error naming the argument."""

from __future__ import annotations

import nbformat
import pytest
import yaml

from sesiam_lib.pipeline import expand_steps, load_preset, run_pipeline
from sesiam_lib.pipeline.__main__ import main
from sesiam_lib.pipeline.runner import available_presets, parse_override, repo_root
from sesiam_lib.pipeline.validate import INJECTED, check_steps


def _notebook(path, params="value = 1\nrun_name = ''\nresults_root = ''\nwork_root = ''"):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(params)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell, nbformat.v4.new_code_cell("raise RuntimeError('a kernel must not start')")]
    nbformat.write(nb, str(path))


@pytest.fixture
def preset(tmp_path):
    nbs = tmp_path / "nb"
    nbs.mkdir()
    _notebook(nbs / "a.ipynb", "image_size = 64\nrun_name = ''\nresults_root = ''\nwork_root = ''")
    _notebook(nbs / "b.ipynb", "seed = 0\nrun_name = ''\nresults_root = ''\nwork_root = ''")
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"parameters": {"seed": 1}, "steps": [{"notebook": "a.ipynb"},
                                                                         {"notebook": "b.ipynb"}]}))
    return path, nbs


def _run(preset, tmp_path, **kw):
    path, nbs = preset
    return run_pipeline(str(path), results_root=tmp_path / "res", work_root=tmp_path / "work",
                        notebooks_dir=nbs, **kw)


def test_misspelt_parameter_is_an_error_with_suggestion(preset, tmp_path):
    with pytest.raises(ValueError, match=r"unknown notebook parameter 'image_sise' \(-p override; did you mean "
                                         r"'image_size'\?\)"):
        _run(preset, tmp_path, overrides={"image_sise": 64})
    assert not (tmp_path / "res").exists()  # failed before anything was written or run


def test_preset_parameter_used_by_one_notebook_is_fine(preset, tmp_path):
    path, nbs = preset
    steps = expand_steps(load_preset(str(path)), {"image_size": 32, **{k: "x" for k in INJECTED}})
    check_steps(steps, nbs, {"image_size": 32})  # 'seed' (b only) and 'image_size' (a only) are both known


def test_only_matching_nothing_is_an_error_listing_steps(preset, tmp_path):
    with pytest.raises(ValueError, match=r"--only 'zzz' matches no step.*the steps are: a, b"):
        _run(preset, tmp_path, only=["zzz"])
    with pytest.raises(ValueError, match=r"--only 'c'"):
        _run(preset, tmp_path, only=["a", "c"])


def test_results_root_under_a_file(preset, tmp_path):
    (tmp_path / "afile").write_text("x")
    path, nbs = preset
    with pytest.raises(ValueError, match=r"--results-root: .*afile is a file, not a folder"):
        run_pipeline(str(path), results_root=tmp_path / "afile" / "r", work_root=tmp_path / "w", notebooks_dir=nbs)
    with pytest.raises(ValueError, match=r"--work-root: .*afile exists and is a file"):
        run_pipeline(str(path), results_root=tmp_path / "r", work_root=tmp_path / "afile", notebooks_dir=nbs)


def test_missing_notebook_is_reported_before_running(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"steps": [{"notebook": "nope.ipynb"}]}))
    with pytest.raises(FileNotFoundError, match=r"step 'nope': notebook .*nope\.ipynb does not exist"):
        run_pipeline(str(path), results_root=tmp_path / "r", work_root=tmp_path / "w", notebooks_dir=tmp_path)


@pytest.mark.parametrize("text,match", [
    ("seeds=[0,1", r"-p 'seeds=\[0,1': the value is not valid YAML"),
    ("=3", r"-p '=3': empty parameter name"),
    ("a b=3", r"'a b' is not a valid parameter name"),
    ("noequals", r"key=value"),
])
def test_parse_override_errors_name_the_argument(text, match):
    with pytest.raises(ValueError, match=match):
        parse_override(text)


def test_cli_exits_nonzero_with_message(preset, tmp_path, capsys):
    path, _ = preset
    assert main(["--preset", str(path), "-p", "seeds=[0,1"]) == 1
    assert "seeds=[0,1" in capsys.readouterr().err
    assert main(["--preset", "smoke", "-p", "image_sise=64", "--results-root", str(tmp_path / "r"),
                 "--work-root", str(tmp_path / "w")]) == 1
    err = capsys.readouterr().err
    assert "'image_sise'" in err and "image_size" in err
    assert main(["--preset", "smoke", "--only", "zzz", "--results-root", str(tmp_path / "r"),
                 "--work-root", str(tmp_path / "w")]) == 1
    assert "matches no step" in capsys.readouterr().err


@pytest.mark.parametrize("name", available_presets())
def test_shipped_presets_pass_the_checks(name):
    steps = expand_steps(load_preset(name), {k: "x" for k in INJECTED})
    check_steps(steps, repo_root() / "notebooks")
