"""The released SiamFC tracker (FACTS §4), benchmark runners and visualisation.

- :class:`SiamFCTracker`: ``init(image, box)`` / ``update(image) -> box`` (GOT-10k toolkit interface), for
  every model of :func:`sesiam_lib.models.build_model`; :func:`tracker_params` gives the released per-benchmark
  hyper-parameters (``SiamFCTracker.from_benchmark(model, "se_siamfc_resnet22", "OTB2015")``); a setting tuned
  by :mod:`sesiam_lib.tuning` is used with ``tuned="best_params.json"`` (:func:`load_tuned`).
- :mod:`.runners`: :func:`run_otb` / :func:`run_one_pass` / :func:`run_got10k` (one-pass) and :func:`run_vot`
  (supervised, re-initialisation after failures), resumable, multi-process, with a JSON run record.
- :mod:`.visualize`: frames with boxes, per-scale response maps, GIF/MP4 animations (imported lazily: it needs
  matplotlib).
"""

from .params import (DEFAULT_BENCHMARK, TRACKER_PARAMS, canonical_benchmark, load_tuned, model_family,
                     tracker_params)
from .runners import (
    TrackerFactory,
    result_path,
    run_got10k,
    run_one_pass,
    run_otb,
    run_vot,
    track_sequence,
    true_sizes,
    vot_result_path,
    vot_supervised,
)
from .siamfc_tracker import SiamFCTracker, as_rgb_uint8, hann_window, parse_box, scale_factors

__all__ = [
    "SiamFCTracker",
    "tracker_params",
    "load_tuned",
    "model_family",
    "canonical_benchmark",
    "TRACKER_PARAMS",
    "DEFAULT_BENCHMARK",
    "TrackerFactory",
    "track_sequence",
    "true_sizes",
    "vot_supervised",
    "run_one_pass",
    "run_otb",
    "run_got10k",
    "run_vot",
    "result_path",
    "vot_result_path",
    "as_rgb_uint8",
    "parse_box",
    "hann_window",
    "scale_factors",
    "visualize",
]


def __getattr__(name):  # lazy: ``sesiam_lib.tracking.visualize`` imports matplotlib only when used
    if name == "visualize":
        import importlib

        return importlib.import_module(".visualize", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
