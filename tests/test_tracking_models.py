"""The tracker with the real networks of sesiam_lib.models, and a trained tiny model on the synthetic benchmark."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("sesiam_lib.models")
from sesiam_lib.models import build_model  # noqa: E402
from sesiam_lib.tracking import SiamFCTracker, TrackerFactory, track_sequence  # noqa: E402

from test_tracking_tracker import scene  # noqa: E402


@pytest.mark.parametrize("name", ["siamfc_tiny", "se_siamfc_tiny"])
def test_tiny_models_geometry_and_fast_path(name):
    torch.manual_seed(0)
    model = build_model(name).eval()
    frames, boxes = scene(n=5)
    out = {}
    for fast in (True, False):
        t = SiamFCTracker.from_benchmark(model, benchmark="OTB2015", device="cpu", fast=fast)
        assert (t.exemplar_size, t.instance_size, t.score_size, t.up_size) == (
            model.exemplar_size, model.instance_size, model.score_size, 16 * model.score_size)
        if fast:
            assert t.net is not t.model, t.fast_fallback  # the optimised copy is used
        t.init(frames[0], boxes[0])
        out[fast] = np.stack([t.update(f) for f in frames[1:]])
        d = t.last_debug
        assert d["search_crops"].shape == (3, model.instance_size, model.instance_size, 3)
        assert d["response_raw"].shape == (3, model.score_size, model.score_size)
        # s_x = s_z + 2 ((I - E) / 2) / (E / s_z), generalised to the tiny crop sizes
    # the fast path computes the same function (to float rounding): the same boxes, or one upsampled cell apart
    cell = 8 / 16 * 2 * t.s_x / model.instance_size
    np.testing.assert_allclose(out[True], out[False], atol=cell)


def test_search_region_generalises_to_model_sizes():
    model = build_model("siamfc_tiny").eval()
    t = SiamFCTracker(model, device="cpu", fast=False)
    img = np.zeros((100, 100, 3), np.uint8)
    t.init(img, [40, 40, 20, 10])
    s_z = t.last_debug["s_z"]
    assert s_z == round(np.sqrt((20 + 15) * (10 + 15)))
    E, I = model.exemplar_size, model.instance_size
    assert t.s_x == pytest.approx(s_z + 2 * ((I - E) / 2) / (E / s_z))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["siamfc_resnet22", "se_siamfc_resnet22"])
def test_full_models_one_step(name):
    torch.manual_seed(0)
    model = build_model(name).eval()
    frames, boxes = scene(n=2)
    t = SiamFCTracker.from_benchmark(model, benchmark="VOT2017", device="cpu")
    t.init(frames[0], boxes[0])
    box = t.update(frames[1])
    assert np.isfinite(box).all()
    assert t.last_debug["response_up"].shape == (3, 272, 272)
    assert t.last_debug["search_crops"].shape == (3, 255, 255, 3)


@pytest.mark.slow
def test_trained_tiny_tracker_follows_synthetic_sequences(tmp_path):
    """Train SiamFC+-tiny briefly on T-MNIST (~25 s on 2 cores), then track held-out test sequences."""
    training = pytest.importorskip("sesiam_lib.training")
    synthetic = pytest.importorskip("sesiam_lib.data.synthetic")
    from sesiam_lib.evaluation.overlap import iou_xywh

    root = tmp_path / "tmnist"
    result = training.train(config={
        "model": "siamfc_tiny", "epochs": 4, "batch_size": 8, "seed": 0, "device": "cpu",
        "run_dir": str(tmp_path / "run"), "overwrite": True,
        "data": {"dataset": "synthetic", "root": str(root), "split": "train", "pairs_per_epoch": 400,
                 "frame_range": 20, "generate": {"kind": "T-MNIST", "num_sequences": 12, "num_frames": 40}},
        "optim": {"lr_start": 1e-2, "lr_end": 1e-3},
        "validation": {"enabled": False},
    })
    test = synthetic.generate_synthetic(root, kind="T-MNIST", split="test", num_sequences=5, num_frames=40)

    def mean_ious(checkpoint):
        torch.manual_seed(0)
        tracker = TrackerFactory("siamfc_tiny", checkpoint=checkpoint, benchmark="OTB2015", device="cpu")()
        return np.array([np.nanmean(iou_xywh(s.boxes[1:], track_sequence(tracker, s)["boxes"][1:])) for s in test])

    trained = mean_ious(str(result.final_checkpoint))
    untrained = mean_ious(None)
    static = np.mean([np.nanmean(iou_xywh(s.boxes[1:], np.repeat(s.boxes[:1], len(s) - 1, 0))) for s in test])
    # it follows the digits: most sequences tracked well, far better than standing still or random weights
    assert np.median(trained) > 0.6, trained
    assert trained.mean() > untrained.mean() + 0.05, (trained, untrained)
    assert trained.mean() > static + 0.3, (trained, static)
