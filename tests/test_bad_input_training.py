"""Bad training configuration: rejected before anything is written, naming the key."""

from __future__ import annotations

import logging
import sys

import pytest
import torch

from sesiam_lib.training import ConfigError, load_config, train
from sesiam_lib.training.__main__ import main
from sesiam_lib.training.checkpointing import CheckpointManager
from sesiam_lib.training.console import console_logging, progress_wanted
from sesiam_lib.training.distributed import resolve_device


@pytest.mark.parametrize("override,key", [
    ("optim.lr_start=.nan", "optim.lr_start"),
    ("optim.lr_end=.inf", "optim.lr_end"),
    ("optim.grad_clip=-.inf", "optim.grad_clip"),
    ("data.shift=.nan", "data.shift"),
    ("model_kwargs={width: .nan}", "model_kwargs.width"),
])
def test_non_finite_numbers_are_rejected(tmp_path, override, key):
    cfg = load_config(preset="smoke", overrides=[override, f"run_dir={tmp_path / 'run'}"])
    with pytest.raises(ConfigError, match=rf"{key} must be a finite number"):
        cfg.validate()
    with pytest.raises(ConfigError, match=rf"{key} must be a finite number"):
        train(cfg)
    assert not (tmp_path / "run").exists()  # nothing written, no NaN last.pth


def test_run_dir_that_is_a_file(tmp_path):
    (tmp_path / "afile").write_text("x")
    for run_dir, match in [(tmp_path / "afile", "exists and is a file"), (tmp_path / "afile" / "r", "is a file")]:
        with pytest.raises(ConfigError, match=rf"run_dir: .*afile.*{match}"):
            load_config(preset="smoke", overrides=[f"run_dir={run_dir}"]).validate()


def test_cli_reports_config_errors(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    assert main(["--preset", "smoke", f"run_dir={tmp_path / 'afile'}"]) == 2
    assert "run_dir" in capsys.readouterr().err
    assert main(["--preset", "smoke", "optim.lr_start=.nan"]) == 2
    assert "optim.lr_start must be a finite number" in capsys.readouterr().err


@pytest.mark.parametrize("device", ["gpu", "cuda:x", "cudafoo"])
def test_malformed_device_is_rejected(device):
    with pytest.raises(ConfigError, match="device must be"):
        load_config(preset="smoke", overrides=[f"device={device}"]).validate()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_cuda_without_cuda_says_what_to_do(tmp_path, capsys):
    with pytest.raises(ConfigError, match=r"device='cuda'.*CUDA is not available.*device=cpu"):
        resolve_device("cuda")
    with pytest.raises(RuntimeError):  # still a RuntimeError, as before
        resolve_device("cuda:0")
    assert main(["--preset", "smoke", "device=cuda", f"run_dir={tmp_path / 'r'}",
                 f"data.root={tmp_path / 'd'}", "data.generate=null"]) == 2
    assert "CUDA is not available" in capsys.readouterr().err


def test_overwrite_warns_naming_the_deleted_checkpoints(tmp_path, caplog):
    manager = CheckpointManager(tmp_path)
    manager.save_last({"a": torch.zeros(1)})
    manager.save_epoch({"a": torch.zeros(1)}, 1)
    with caplog.at_level(logging.WARNING, logger="sesiam_lib.training"):
        manager.remove_all()
    text = caplog.text
    assert "overwrite=true: deleting 2 checkpoint(s)" in text and "epoch_001.pth" in text and "last.pth" in text
    assert not list((tmp_path / "checkpoints").glob("*.pth"))


def test_overwrite_warning_reaches_a_plain_script(tmp_path, capsys, monkeypatch):
    """No logging configured (a script): the warning is printed on stderr."""
    logger = logging.getLogger("sesiam_lib.training.checkpointing")
    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    monkeypatch.setattr(logger, "propagate", False)
    manager = CheckpointManager(tmp_path)
    manager.save_last({"a": torch.zeros(1)})
    manager.remove_all()
    assert "WARNING: overwrite=true: deleting 1 checkpoint(s)" in capsys.readouterr().err


class _Tty:
    def __init__(self, stream):
        self.stream = stream

    def isatty(self):
        return True

    def write(self, text):
        return self.stream.write(text)

    def flush(self):
        self.stream.flush()


def test_script_on_a_terminal_shows_progress_and_log_lines(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stderr", _Tty(sys.stderr))
    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    assert progress_wanted("auto") and not progress_wanted(False)
    log = logging.getLogger("sesiam_lib.training")
    with console_logging("auto"):
        log.info("generating synthetic train split")
    log.info("not shown after the run")
    err = capsys.readouterr().err
    assert "generating synthetic train split" in err and "not shown" not in err
    with console_logging(False):
        log.info("quiet")
    assert "quiet" not in capsys.readouterr().err
