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


def test_show_figure_saves_png_and_shows_a_smaller_jpeg(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from sesiam_lib.core.notebook import show_figure

    fig = plt.figure(figsize=(6, 4))
    fig.add_subplot(111).imshow(np.random.default_rng(0).random((200, 300)), cmap="viridis")
    path = tmp_path / "map.png"
    shown = show_figure(fig, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shown[:3] == b"\xff\xd8\xff"  # a JPEG
    assert len(shown) < path.stat().st_size  # the point of it: image-heavy figures weigh less inline
    assert not plt.fignum_exists(fig.number)  # closed, so a loop does not pile figures up
