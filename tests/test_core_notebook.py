import torch

from sesiam_lib.core.notebook import HEADLESS_ENV, is_headless
from sesiam_lib.sesn.viz import equivariance_explorer


def test_headless_flag_and_widgets_skip(monkeypatch):
    monkeypatch.setenv(HEADLESS_ENV, "1")
    assert is_headless()
    assert equivariance_explorer(torch.rand(1, 3, 48, 48)) is None
    monkeypatch.setenv(HEADLESS_ENV, "0")
    assert not is_headless()
    widget = equivariance_explorer(torch.rand(1, 3, 48, 48), channels=2)
    assert widget is not None and len(widget.children) == 3
