"""Notebooks have one source: each notebooks/NN_name.ipynb is paired (jupytext) with NN_name.py in percent format."""

from __future__ import annotations

import os
import shutil
import time

import jupytext
import nbformat
import pytest

from sesiam_lib.pipeline.runner import repo_root

NOTEBOOKS = sorted((repo_root() / "notebooks").glob("*.ipynb"))


def cells(notebook) -> list[tuple[str, str, tuple]]:
    return [(c.cell_type, c.source.strip(), tuple(c.metadata.get("tags", []))) for c in notebook.cells]


def out_of_sync(ipynb_path) -> list[str]:
    """What differs between a notebook and its paired .py (empty: in sync)."""
    problems = []
    py_path = ipynb_path.with_suffix(".py")
    if not py_path.is_file():
        return [f"{ipynb_path.name}: no paired {py_path.name} (run `make notebooks`)"]
    ipynb = nbformat.read(str(ipynb_path), as_version=4)
    if ipynb.metadata.get("jupytext", {}).get("formats") != "ipynb,py:percent":
        problems.append(f"{ipynb_path.name}: not paired (metadata jupytext.formats)")
    py = jupytext.read(str(py_path))
    a, b = cells(ipynb), cells(py)
    if a != b:
        first = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        problems.append(f"{ipynb_path.name} and {py_path.name} differ from cell {first} on ({len(a)} vs {len(b)} "
                        "cells): edit one, then run `make notebooks` (jupytext --sync)")
    return problems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_and_its_py_are_in_sync(path):
    assert not out_of_sync(path)
    nb = nbformat.read(str(path), as_version=4)
    ids = [c.get("id") for c in nb.cells]
    assert all(ids) and len(set(ids)) == len(ids), "every cell has a unique, stored id"
    assert nb.cells[0].metadata.get("tags") == ["parameters"]


def test_an_edit_on_one_side_is_caught_and_sync_keeps_ids_and_tags(tmp_path):
    src = NOTEBOOKS[1]
    ipynb = tmp_path / src.name
    shutil.copy(src, ipynb)
    shutil.copy(src.with_suffix(".py"), ipynb.with_suffix(".py"))
    assert not out_of_sync(ipynb)
    py = ipynb.with_suffix(".py")
    py.write_text(py.read_text().replace('device = "cpu"', 'device = "cuda"', 1))
    assert out_of_sync(ipynb)
    before = nbformat.read(str(ipynb), as_version=4)
    future = time.time() + 5
    os.utime(py, (future, future))  # the .py is the newer side
    from jupytext.cli import jupytext as jupytext_cli

    jupytext_cli(["--sync", str(ipynb)])
    assert not out_of_sync(ipynb)
    after = nbformat.read(str(ipynb), as_version=4)
    assert [c.get("id") for c in after.cells] == [c.get("id") for c in before.cells]
    assert after.cells[0].metadata.get("tags") == ["parameters"] and 'device = "cuda"' in after.cells[0].source
