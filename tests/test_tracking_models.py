"""The tracker with the real networks of sesiam_lib.models, and a trained tiny model on the synthetic benchmark."""

from __future__ import annotations

from pathlib import Path

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


FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.mark.slow
def test_trained_tiny_tracker_beats_random_weights_where_they_fail(tmp_path):
    """A trained SiamFC+ tiny follows digits among distractors of their own class that random weights lose.

    Random conv features already track a coloured digit on this benchmark (mean IoU 0.68 on plain T-MNIST), so the
    sequences are the hard case: S-MNIST (scale change) with 2-3 distractors, all of the target's class (half of
    them of a similar colour). The weights are ``tests/fixtures/siamfc_tiny_smnist_s0.pth``, the best validation
    epoch of ``python -m sesiam_lib.training --preset smnist_tiny`` (seed 0): training inside the test is too short
    to be stable (6 x 400 pairs on 12 sequences: from some seeds no better than random weights; measured), and the
    training loop has its own tests. Compared with the *best* of four random initialisations.

    Measured (mean IoU over these 20 sequences; trained vs the best random init):
    torch 2.13.0+cpu, numpy 2.4.6, opencv 5.0.0.93, scikit-image 0.26.0 -- 0.4487 vs 0.3754 (gap 0.073);
    torch 2.14.1 (CUDA build on the CPU), numpy 1.26.4, opencv 4.10.0.84, scikit-image 0.24.0 -- 0.4454 vs
    0.3751 (gap 0.070). The margin asserted, 0.035, is half the smaller measured gap. (On plain T-MNIST the same
    comparison gave gaps of 0.007-0.025: there random weights do not fail.)
    """
    synthetic = pytest.importorskip("sesiam_lib.data.synthetic")
    from sesiam_lib.evaluation.overlap import iou_xywh

    torch.set_num_threads(1)
    test = synthetic.generate_synthetic(tmp_path / "hard", kind="S-MNIST", split="test", num_sequences=20,
                                        num_frames=60, seed=100, same_class_prob=1.0, num_distractors=(2, 3),
                                        progress=False)

    def mean_iou(checkpoint, init_seed=0):
        torch.manual_seed(init_seed)
        tracker = TrackerFactory("siamfc_tiny", checkpoint=checkpoint, benchmark="OTB2015", device="cpu")()
        return float(np.mean([np.nanmean(iou_xywh(s.boxes[1:], track_sequence(tracker, s)["boxes"][1:]))
                              for s in test]))

    trained = mean_iou(str(FIXTURES / "siamfc_tiny_smnist_s0.pth"))
    untrained = [mean_iou(None, init_seed) for init_seed in range(4)]
    print(f"trained {trained:.4f} untrained {[round(u, 4) for u in untrained]}")
    assert trained > max(untrained) + 0.035, (trained, untrained)
