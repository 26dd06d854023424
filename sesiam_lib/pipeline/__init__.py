"""Papermill pipeline over the notebooks: ``python -m sesiam_lib.pipeline --preset NAME [-p key=value ...]``."""

from .runner import PipelineError, Step, available_presets, expand_steps, load_preset, run_pipeline

__all__ = ["run_pipeline", "load_preset", "expand_steps", "available_presets", "Step", "PipelineError"]
