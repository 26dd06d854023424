"""Choosing optim.lr_start from a grid on the validation split (sesiam_lib.training.lr_grid, notebook 02)."""

import json

import pytest
import torch

from sesiam_lib.pipeline.experiment import RunPaths
from sesiam_lib.training import (LrGridError, Trainer, lr_selection_path, plot_lr_grid, read_csv_log, select_lr,
                                 train)

# validation AUC per epoch, by lr_start: 1e-3 and 0.1 tie at 0.5 -> the smaller, 1e-3
TABLE = {0.1: [0.5, 0.2], 0.01: [0.3, 0.4], 0.001: [0.45, 0.5]}


@pytest.fixture
def scripted_auc(monkeypatch):
    trained = []

    def fake(self, epoch):
        if epoch == 0:
            trained.append((self.cfg.optim.lr_start, self.cfg.seed))
        return TABLE[self.cfg.optim.lr_start][epoch]

    monkeypatch.setattr(Trainer, "_validate", fake)
    return trained


def overrides(data_root, paths, seed):
    return [f"data.root={data_root}", "resume=auto", "progress=false", "data.pairs_per_epoch=4", "batch_size=2",
            "model=siamfc_tiny", f"seed={seed}", f"run_dir={paths.train_dir('S-MNIST', 'siamfc_tiny', seed)}"]


def test_grid_selects_writes_and_is_reused(data_root, tmp_path, scripted_auc):
    trained = scripted_auc
    paths = RunPaths("v2", tmp_path / "results", tmp_path / "work")
    kw = dict(paths=paths, dataset="S-MNIST", name="siamfc_tiny", preset="smoke", lr_seed=0)

    # another seed before the lr_seed step: a clear error
    with pytest.raises(LrGridError, match="lr_seed step must run first"):
        select_lr([0.01, 0.1, 0.001], seed=1, overrides=overrides(data_root, paths, 1), **kw)

    sel = select_lr([0.01, 0.1, 0.001], seed=0, overrides=overrides(data_root, paths, 0), **kw)
    assert sorted(trained) == [(0.001, 0), (0.01, 0), (0.1, 0)]
    assert sel["chosen"]["lr_start"] == 0.001 and sel["chosen"]["lr_end"] == pytest.approx(1e-3 * 1e-5 / 1e-2)
    path = lr_selection_path(paths, "S-MNIST", "siamfc_tiny")
    assert path == tmp_path / "results" / "v2" / "training" / "S-MNIST" / "siamfc_tiny_lr_selection.json"
    stored = json.loads(path.read_text())
    assert stored["grid"] == [0.001, 0.01, 0.1] and "ties" in stored["rule"] and stored["lr_seed"] == 0
    by_lr = {r["lr_start"]: r for r in stored["runs"]}
    assert {lr: (r["best_auc"], r["best_epoch"], r["stop_epoch"]) for lr, r in by_lr.items()} == {
        0.1: (0.5, 1, 2), 0.01: (0.4, 2, 2), 0.001: (0.5, 2, 2)}
    grid_dir = paths.train_dir("S-MNIST", "siamfc_tiny-lr0.001", 0)
    assert by_lr[0.001]["run_dir"] == str(grid_dir) and (grid_dir / "checkpoints" / "final.pth").is_file()
    assert (paths.training_results("S-MNIST", "siamfc_tiny-lr0.001", 0) / "log_epochs.csv").is_file()
    lrs = [float(r["lr"]) for r in read_csv_log(grid_dir / "log_epochs.csv")]
    assert lrs == pytest.approx([1e-3, 1e-6])
    assert sel["overrides"] == ["optim.lr_start=0.001", f"optim.lr_end={sel['chosen']['lr_end']!r}"]

    import matplotlib.pyplot as plt

    fig = plot_lr_grid(sel)
    assert len(fig.axes[0].lines) == 6  # per run: the curve and its best-epoch star
    plt.close(fig)

    # another seed reads it, trains no grid run
    trained.clear()
    sel1 = select_lr([0.1, 0.01, 0.001], seed=1, overrides=overrides(data_root, paths, 1), **kw)
    assert trained == [] and sel1["chosen"] == sel["chosen"] and sel1["overrides"] == sel["overrides"]
    # ... but not with another grid, nor other settings
    with pytest.raises(LrGridError, match="made with lr_grid"):
        select_lr([0.01, 0.001], seed=1, overrides=overrides(data_root, paths, 1), **kw)
    with pytest.raises(LrGridError, match="other training settings.*batch_size"):
        select_lr([0.1, 0.01, 0.001], seed=1, overrides=overrides(data_root, paths, 1) + ["batch_size=4"], **kw)

    # the normal run of lr_seed at the chosen value: the same weights as its grid run
    normal = train(preset="smoke", overrides=overrides(data_root, paths, 0) + sel["overrides"])
    a = torch.load(normal.final_checkpoint, map_location="cpu", weights_only=True)["model"]
    b = torch.load(grid_dir / "checkpoints" / "final.pth", map_location="cpu", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)

    # a changed grid redoes the selection (finished runs are resumed: nothing retrained)
    trained.clear()
    sel = select_lr([0.01], seed=0, overrides=overrides(data_root, paths, 0), **kw)
    assert trained == [] and sel["chosen"]["lr_start"] == 0.01
    assert json.loads(path.read_text())["grid"] == [0.01]
    with pytest.raises(LrGridError, match="made with lr_grid"):
        select_lr([0.1, 0.01, 0.001], seed=1, overrides=overrides(data_root, paths, 1), **kw)


def test_bad_grids(tmp_path):
    paths = RunPaths("v2", tmp_path / "results", tmp_path / "work")
    for grid, match in (([], "empty"), ([0.01, -1], "> 0"), ("0.01", "list"), ([0.01, 0.010000001], "repeated")):
        with pytest.raises(LrGridError, match=match):
            select_lr(grid, paths=paths, dataset="S-MNIST", name="m", seed=0, preset="smoke")
