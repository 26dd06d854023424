"""Bad checkpoint files and failed checkpoint writes: say what the file is / raise CheckpointWriteError."""

from __future__ import annotations

import errno
import os
import pickle
import tempfile

import numpy as np
import pytest
import torch

from sesiam_lib.core import io as core_io
from sesiam_lib.models import build_model, load_checkpoint
from sesiam_lib.models.checkpoint import CheckpointError
from sesiam_lib.training.checkpointing import CheckpointManager, CheckpointWriteError, load_training_checkpoint


@pytest.fixture(scope="module")
def model():
    return build_model("siamfc_tiny")


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_plain_pickle_is_named_as_such(tmp_path, model):
    path = tmp_path / "weights.pkl"
    with open(path, "wb") as handle:
        pickle.dump(model.state_dict(), handle)
    with pytest.raises(CheckpointError, match=r"weights\.pkl'?: it is a plain Python pickle .*pickle\.dump"):
        load_checkpoint(model, path)
    with pytest.raises(CheckpointError, match=r"weights\.pkl: it is a plain Python pickle"):
        load_training_checkpoint(path)


def _npy(handle):
    np.save(handle, np.zeros(3))


def _npz(handle):
    np.savez(handle, x=np.zeros(3))


def _json(handle):
    handle.write(b'{"lr": 0.01}')


@pytest.mark.parametrize("writer,match", [
    (_npy, "NumPy .npy"),
    (_npz, "zip archive that torch.save did not write"),
    (_json, "a text file"),
])
def test_foreign_files_are_named(tmp_path, model, writer, match):
    path = tmp_path / "w.pth"
    with open(path, "wb") as handle:
        writer(handle)
    with pytest.raises(CheckpointError, match=match):
        load_checkpoint(model, path)


def test_truncated_torch_file_is_still_called_truncated(tmp_path, model):
    path = tmp_path / "w.pth"
    torch.save(model.state_dict(), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint(model, path)


def test_torch_zip_writer_failure_becomes_checkpoint_write_error(tmp_path, monkeypatch):
    def failing_save(obj, handle, *a, **k):
        handle.write(b"PK")
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598")

    monkeypatch.setattr(torch, "save", failing_save)
    manager = CheckpointManager(tmp_path / "run")
    with pytest.raises(CheckpointWriteError, match=r"could not write checkpoint .*last\.pth .*torch\.save") as info:
        manager.save_last({"a": 1})
    assert info.value.errno in (errno.EIO, errno.ENOSPC)
    assert not list((tmp_path / "run" / "checkpoints").glob("*.tmp"))  # the temporary file is cleaned up


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_disk_full_while_writing_checkpoint(tmp_path, monkeypatch):
    """The temporary file of the atomic write is /dev/full: every write fails with ENOSPC."""
    real_mkstemp = tempfile.mkstemp

    def full_mkstemp(*args, **kwargs):
        fd, name = real_mkstemp(*args, **kwargs)
        os.close(fd)
        return os.open("/dev/full", os.O_WRONLY), name

    manager = CheckpointManager(tmp_path / "run")
    manager.save_last({"w": torch.zeros(4)})
    monkeypatch.setattr(core_io.tempfile, "mkstemp", full_mkstemp)
    with pytest.raises(CheckpointWriteError, match=r"last\.pth \(the disk is full\); the previous last\.pth is "
                                                   r"intact") as info:
        manager.save_last({"w": torch.ones(1 << 20)})
    assert info.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert torch.equal(torch.load(manager.last_path, weights_only=True)["w"], torch.zeros(4))
