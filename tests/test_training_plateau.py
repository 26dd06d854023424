"""Stopping at a validation plateau (validation.patience / min_delta / min_epochs): the rule, the run, resuming."""

from pathlib import Path

import pytest
import torch

from sesiam_lib.training import ConfigError, Trainer, load_config, plateau_stop_epoch, read_csv_log, train


def tiny_config(data_root, run_dir, epochs=8, **validation):
    return {
        "model": "siamfc_tiny", "epochs": epochs, "batch_size": 2, "seed": 3, "device": "cpu", "progress": False,
        "num_threads": 1, "run_dir": str(run_dir), "resume": "auto",
        "data": {"root": str(data_root), "pairs_per_epoch": 4},
        "validation": {"enabled": True, "every": 1, "max_sequences": 1, **validation},
    }


@pytest.fixture
def scripted_auc(monkeypatch):
    """Validation returns ``aucs[epoch]`` (0-based) instead of tracking; records the validated epochs."""
    calls = []
    aucs = []

    def fake(self, epoch):
        v = self.cfg.validation
        if not v.enabled or not ((epoch + 1) % v.every == 0 or epoch + 1 == self.cfg.epochs):
            return None
        calls.append(epoch + 1)
        return aucs[epoch]

    monkeypatch.setattr(Trainer, "_validate", fake)
    return aucs, calls


def test_rule():
    h = lambda *aucs: list(enumerate(aucs, start=1))  # noqa: E731
    assert plateau_stop_epoch(h(0.5, 0.6, 0.6, 0.6, 0.6), patience=3, upto=5) == 5
    assert plateau_stop_epoch(h(0.5, 0.6, 0.6, 0.6), patience=3, upto=4) is None
    assert plateau_stop_epoch(h(0.5, 0.6, 0.6, 0.6, 0.6), patience=None, upto=5) is None
    # min_delta: gains of <= 0.005 over the best so far are no improvement (and raise the bar)
    assert plateau_stop_epoch(h(0.5, 0.503, 0.504, 0.505, 0.52), patience=2, min_delta=0.005, upto=5) == 3
    assert plateau_stop_epoch(h(0.5, 0.503, 0.504, 0.505, 0.52), patience=2, min_delta=0.005, min_epochs=5,
                              upto=5) is None
    assert plateau_stop_epoch(h(0.5, 0.5, 0.5, 0.5), patience=1, min_epochs=3, upto=4) == 3
    # validation every 2 epochs: epochs without validation are absent from the history
    assert plateau_stop_epoch([(2, 0.5), (4, 0.6), (6, 0.55), (8, 0.6)], patience=4, upto=8) == 8


def test_config_checks():
    with pytest.raises(ConfigError, match="patience needs validation.enabled"):
        load_config({"validation": {"patience": 2}}).validate()
    with pytest.raises(ConfigError, match=r"patience \(1\) must be >= validation.every \(2\)"):
        load_config({"validation": {"enabled": True, "patience": 1, "every": 2}}).validate()
    with pytest.raises(ConfigError, match="min_delta must be >= 0"):
        load_config({"validation": {"enabled": True, "patience": 2, "min_delta": -0.1}}).validate()
    assert load_config({}).validation.patience is None


def test_stops_records_and_resumes(data_root, tmp_path, scripted_auc):
    aucs, calls = scripted_auc
    aucs[:] = [0.3, 0.5, 0.5, 0.49, 0.6, 0.6, 0.6, 0.6]
    run = tmp_path / "run"
    r = train(tiny_config(data_root, run, patience=2))
    # improving epochs 1, 2; none in 3, 4 -> stop after 4 (of 8)
    assert (r.stopped_early, r.stop_epoch, r.epochs_completed, r.global_step) == (True, 4, 4, 8)
    assert (r.best_epoch, r.best_metric) == (2, 0.5) and r.best_checkpoint.is_file()
    assert [int(row["epoch"]) for row in read_csv_log(r.log_epochs)] == [1, 2, 3, 4]
    final = torch.load(r.final_checkpoint, map_location="cpu", weights_only=False)
    assert (final["stopped_early"], final["stop_epoch"], final["epoch"], final["best_epoch"]) == (True, 4, 4, 2)
    assert "stopping early after epoch 4 of 8" in (run / "train.log").read_text()
    # the schedule stays over the 8 epochs
    lrs = [float(row["lr"]) for row in read_csv_log(r.log_epochs)]
    assert lrs[0] == pytest.approx(1e-2) and lrs[3] == pytest.approx(1e-2 * (1e-3) ** (3 / 7))

    # resumed with the same settings: finished, nothing trained
    steps = (run / "log_steps.csv").read_text()
    calls.clear()
    again = train(tiny_config(data_root, run, patience=2))
    assert (again.stopped_early, again.stop_epoch, again.global_step) == (True, 4, 8)
    assert again.resumed_from is not None and calls == [] and (run / "log_steps.csv").read_text() == steps

    # a rule that would have stopped it earlier is refused
    with pytest.raises(ConfigError, match="would have stopped after epoch 3"):
        train(tiny_config(data_root, run, patience=1))

    # a larger patience continues (the rule is not part of the provenance key) and ends where a fresh run with
    # that patience ends, with the same weights
    longer = train(tiny_config(data_root, run, patience=3))
    assert (longer.stopped_early, longer.stop_epoch, longer.epochs_completed) == (False, None, 8)
    assert longer.best_epoch == 5
    fresh = train(tiny_config(data_root, tmp_path / "fresh", patience=3))
    a = torch.load(longer.final_checkpoint, map_location="cpu", weights_only=True)["model"]
    b = torch.load(fresh.final_checkpoint, map_location="cpu", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_no_patience_never_stops_and_min_epochs(data_root, tmp_path, scripted_auc):
    aucs, _ = scripted_auc
    aucs[:] = [0.5] * 5
    r = train(tiny_config(data_root, tmp_path / "off", epochs=5))
    assert (r.stopped_early, r.stop_epoch, r.epochs_completed) == (False, None, 5)
    final = torch.load(r.final_checkpoint, map_location="cpu", weights_only=False)
    assert "stopped_early" not in final and final["epoch"] == 5  # final.pth as without the rule
    r = train(tiny_config(data_root, tmp_path / "min", epochs=5, patience=1, min_epochs=3))
    assert (r.stopped_early, r.stop_epoch, r.epochs_completed) == (True, 3, 3)
    # stopping on the last epoch is no early stop
    r = train(tiny_config(data_root, tmp_path / "last", epochs=3, patience=1, min_epochs=3))
    assert (r.stopped_early, r.stop_epoch, r.epochs_completed) == (False, None, 3)
    assert Path(r.final_checkpoint).is_file()


def test_synthetic_v2_preset(data_root, tmp_path):
    from sesiam_lib.training import load_preset

    cfg = load_config(preset="synthetic_v2").validate()
    v = cfg.validation
    assert (cfg.epochs, cfg.data.pairs_per_epoch, cfg.batch_size, cfg.num_threads) == (24, 500, 8, 1)
    assert cfg.data.scale == 0.3
    assert (cfg.optim.lr_start, cfg.optim.lr_end, cfg.model_kwargs) == (1e-2, 1e-4, {"out_scale": 1e-3})
    assert (v.every, v.max_sequences, v.max_frames, v.patience, v.min_delta, v.min_epochs) == (1, 16, 50, 4, 0.005, 6)
    assert cfg.data.generate == {"kind": "S-MNIST"} and "synthetic_v2" in load_preset("synthetic_v2")["preset"]
    # notebook 02's overrides for T-MNIST
    t = load_config(preset="synthetic_v2",
                    overrides=["data.generate.kind=T-MNIST", "validation.generate.kind=T-MNIST"])
    assert t.data.generate == t.validation.generate == {"kind": "T-MNIST"}
    # both models train with it (shortened)
    for model in ("siamfc_tiny", "se_siamfc_tiny"):
        r = train(preset="synthetic_v2", overrides=[
            f"model={model}", f"data.root={data_root}", f"run_dir={tmp_path / model}", "epochs=2", "batch_size=2",
            "data.pairs_per_epoch=2", "validation.max_sequences=1", "validation.max_frames=6", "progress=false"])
        assert r.epochs_completed == 2 and r.best_epoch is not None and not r.stopped_early
