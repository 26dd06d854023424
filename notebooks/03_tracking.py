# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% tags=["parameters"]
run_name = "dev"            # results go to <results_root>/<run_name>, checkpoints/data to <work_root>/<run_name>
results_root = "../results"
work_root = "../runs"
dataset = "S-MNIST"          # T-MNIST | S-MNIST | OTB2013 | OTB2015 | VOT2016 | VOT2017 | GOT-10k
dataset_roots = {}           # real benchmark folders by dataset name, e.g. OTB2015: /data/OTB100
train_dataset = None         # the dataset the models were trained on (notebook 02); None: the same as `dataset`
models = ["siamfc_tiny", "se_siamfc_tiny"]   # trained models (notebook 02); a variant trained with a tag: "<model>-<tag>"
seeds = [0]                  # trained seeds to track with (checkpoints from notebook 02)
model_options = {}           # build_model options by models entry, e.g. {"se_siamfc_tiny-circular": {"padding_mode": "circular"}}
checkpoints = {}             # extra trackers (e.g. released files): name -> dict with model, checkpoint (a path, or dataset -> path)
                             # and optional model_options (build_model options, e.g. {head: scale})
tracker_benchmark = None     # released hyper-parameters to use (OTB2013, OTB2015, VOT2016, VOT2017); None: the dataset's if tuned, else OTB2015
hyper_family = None          # give every tracker this family's released hyper-parameters ("SiamFC+" or "SE-SiamFC");
                             # None: each model its own family's, as in the paper
tracker_tag = ""             # appended to the result folder names, <model>-<tag>_s<seed>, to keep variants apart
true_size = False            # "true size given": localisation alone (each frame searched at its true size with one
                             # scale, boxes reported with the true size); "truesize" is appended to the tag
tracker_overrides = {}       # tracker settings applied to every tracker after the released/tuned setting,
                             # e.g. {"num_scales": 1} (T-MNIST tracked with one scale); unknown keys are an error
tuned = {}                   # tuned hyper-parameters (best_params.json of python -m sesiam_lib.tuning) by tracker name
                             # (<model>_s<seed>, a checkpoints name) or models entry; "auto": notebook 05's files for
                             # this dataset (<results_root>/<run>/tuning/<dataset>/<model>_s<seed>/best_params.json)
tuned_seed = None            # with tuned "auto": use the setting tuned for <model>_s<tuned_seed> for every seed
train_run = None             # the run whose notebook-02 checkpoints (and synthetic data) to use; None: this run
max_sequences = None         # track only the first N sequences
limit_sequences = None       # DRY RUN: only the first N sequences present in the tree (missing ones: a warning)
limit_frames = None          # DRY RUN: only the first M frames of each sequence (VOT: of the supervised run)
workers = 1                  # processes
device = "cpu"
show_sequence = 0            # which sequence to draw and animate
scale_probe_frames = 0       # frames per sequence for the scale-decision probe (0: skip it)
scale_probe_offsets = [0.8, 1.0, 1.25]   # size-estimate errors the probe places the tracker with
animation_frames = 60

# %% [markdown]
# # 03 — Tracking
#
# Runs the released SiamFC tracking procedure with every trained (or given) model over a benchmark, writes
# OTB-format (or VOT baseline) result files, and shows what the trackers did: frames with ground truth and each
# tracker's box, the per-scale response maps, an animation, and (in JupyterLab) a frame slider.

# %%
# %matplotlib inline
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from sesiam_lib.core.io import atomic_write_text
from sesiam_lib.core.notebook import show_figure
from sesiam_lib.evaluation import read_otb_result
from sesiam_lib.pipeline.experiment import (OTB, TRUE_SIZE_TAG, VOT, RunPaths, benchmark_protocol,
                                            check_tracker_overrides, display_name, figure_trackers, load_benchmark,
                                            tracker_name, checkpoint_entry, tracking_tag, tuned_file,
                                            write_dry_run_note)
from sesiam_lib.tracking import TrackerFactory, run_otb, run_vot, tracker_params
from sesiam_lib.tracking.runners import track_sequence
from sesiam_lib.tracking.visualize import animate_sequence, plot_response_maps
from sesiam_lib.tracking.widgets import frame_grid, frame_slider

paths = RunPaths(run_name, results_root, work_root)
train_paths = RunPaths(train_run or run_name, results_root, work_root)
missing = []
sequences = load_benchmark(dataset, train_paths, dataset_roots.get(dataset), max_sequences=max_sequences,
                           limit_sequences=limit_sequences, limit_frames=limit_frames, missing=missing)
out_dir = paths.tracking_results(dataset)
out_dir.mkdir(parents=True, exist_ok=True)
missing_note = out_dir / "missing_sequences.md"
if write_dry_run_note(paths, limit_sequences, limit_frames):
    print(f"DRY RUN: {len(sequences)} sequences, at most {limit_frames or 'all'} frames each; not the benchmark's numbers")
if missing:
    atomic_write_text(missing_note, f"Dry run: {len(missing)} {dataset} sequence(s) missing from the tree were "
                      f"skipped: {', '.join(missing)}\n")
else:
    missing_note.unlink(missing_ok=True)  # left by an earlier dry run
hyper = tracker_benchmark or (dataset if dataset in OTB + VOT else "OTB2015")
tag = tracking_tag(tracker_tag, true_size, dataset)  # tracker_tag (+ "truesize"): the result folders' tag
suffix = f"_{tag}" if tag else ""  # keeps the figures of tagged variants apart
# explicit hyper_family values and tracker_overrides win over the released and the tuned setting
shared_hyper = {**(tracker_params(hyper_family, hyper) if hyper_family else {}),
                **check_tracker_overrides(tracker_overrides)}

factories = {}
for model in models:
    for seed in seeds:
        name = tracker_name(f"{model}-{tag}" if tag else model, seed)
        checkpoint = train_paths.checkpoint(train_dataset or dataset, model, seed)
        factories[name] = TrackerFactory(model.split("-")[0], checkpoint=str(checkpoint), benchmark=hyper, device=device,
                                         name=name, model_options=model_options.get(model, {}),
                                         tracker_options=shared_hyper,
                                         tuned=tuned_file(paths, dataset, tuned, name=name, model=model, seed=seed,
                                                          tuned_seed=tuned_seed))
given = []  # the checkpoints trackers' names (true_size: "<name>-truesize")
for key, entry in checkpoints.items():
    name = f"{key}-{TRUE_SIZE_TAG}" if true_size else key
    given.append(name)
    job = checkpoint_entry(key, entry, dataset)
    factories[name] = TrackerFactory(job["model"], checkpoint=job["checkpoint"], benchmark=hyper, device=device, name=name,
                                     model_options=job["model_options"],
                                     tracker_options=check_tracker_overrides(tracker_overrides),
                                     tuned=tuned_file(paths, dataset, tuned, name=key, model=job["model"]))
print(len(sequences), "sequences;", "trackers:", list(factories), "; hyper-parameters:", hyper, shared_hyper or "",
      "; TRUE SIZE GIVEN (localisation alone)" if true_size else "")
for name, factory in factories.items():
    if factory.tuned:
        print(f"  {name}: tuned setting {factory.tuned}")

# %%
runner = run_vot if benchmark_protocol(dataset) == "vot" else run_otb
records = {}
for name, factory in factories.items():
    options = {"true_size": True} if true_size else {}  # one-pass only (tracking_tag checked the dataset)
    records[name] = runner(factory, sequences, out_dir, name, workers=workers, benchmark=hyper, progress=False,
                           **options)
    fps = records[name].get("mean_fps")
    print(f"{name:24s} mean FPS", "n/a" if fps is None else f"{fps:.1f}")

# %% [markdown]
# ## Frames with ground truth (dashed) and each tracker's box

# %%
sequence = sequences[show_sequence]
boxes = {}
if benchmark_protocol(dataset) == "otb":
    for name in factories:
        boxes[name] = read_otb_result(out_dir / name / f"{sequence.name}.txt")[:len(sequence)]
    fig = frame_grid(sequence, boxes)
    show_figure(fig, out_dir / f"frames_{sequence.name}{suffix}.png")  # PNG file, JPEG inline (small notebook)

# %% [markdown]
# ## Per-scale response maps of each tracker on one frame

# %%
probe = min(len(sequence) - 1, 20)
for name in figure_trackers(factories, given, seeds):  # one per family: the first seed
    factory = factories[name]
    debug = track_sequence(factory(), sequence, debug=True, max_frames=probe + 1, true_size=true_size)["debug"][-1]
    fig = plot_response_maps(debug)
    fig.suptitle(f"{name}: frame {probe + 1}, chosen scale {debug.get('best_scale')}")
    show_figure(fig, out_dir / f"responses_{name}_{sequence.name}.png")

# %% [markdown]
# ## Scale head: the response over shifts (head="scale" models only)
#
# A model built with `head="scale"` (`sesiam_lib.models.scale_head`) keeps the scale axis in the correlation: one
# search crop per frame, one response map per shift k (k > 0: the target looks larger than in the template, by the
# basis ratio to the power k). Rows: frames; panels: the search crop, then the shifts (the chosen one framed in red,
# its peak marked; the row label gives the sub-step estimate k̂ and the size factor it gave). Nothing is drawn for
# pyramid trackers.

# %%
from sesiam_lib.tracking.scale_head_tracker import is_scale_head
from sesiam_lib.tracking.visualize import plot_shift_responses

shift_frames = [f for f in (1, 5, 10, 20) if f < len(sequence)]
for name in figure_trackers(factories, given, seeds):
    factory = factories[name]
    if not shift_frames or not is_scale_head(factory):
        continue
    run = track_sequence(factory(), sequence, debug=True, max_frames=max(shift_frames) + 1, true_size=true_size)
    fig = plot_shift_responses([run["debug"][f] for f in shift_frames], frames=shift_frames,
                               title=f"{name}: response over shifts, {sequence.name}")
    show_figure(fig, out_dir / f"shift_responses_{name}_{sequence.name}.png")

# %% [markdown]
# ## Animation

# %%
if boxes:
    gif = animate_sequence(sequence, boxes, out_dir / f"{sequence.name}{suffix}.gif", fps=8,
                           frames=range(0, min(len(sequence), animation_frames)), max_side=192)
    print("wrote", gif, f"({gif.stat().st_size / 1e3:.0f} kB)")

# %% [markdown]
# ## Scale-decision probe
#
# The tracker estimates size only through its 3-scale pyramid. Placed on the true centre with a size estimate that
# is off by a factor *o* (template from the first frame, as in tracking), does it pick the pyramid scale that corrects
# it? (`sesiam_lib.tracking.scale_probe`; o = 1: the right pick is the middle scale.)

# %%
if scale_probe_frames and benchmark_protocol(dataset) == "otb":
    import torch
    from sesiam_lib.core.io import atomic_write_csv
    from sesiam_lib.tracking.scale_probe import plot_scale_selection, scale_selection_probe, summarize_scale_selection

    probe_rows, probe_summary = [], {}
    torch.set_num_threads(1)  # small models: one thread is as fast here, and never thrashes beside other jobs
    for name, factory in factories.items():
        rows = scale_selection_probe(factory(), sequences, offsets=scale_probe_offsets,
                                     frames_per_sequence=scale_probe_frames, seed=0)
        probe_rows += [{"tracker": name, **row} for row in rows]
        probe_summary[name] = summarize_scale_selection(rows)
        print(f"{name:32s}", "  ".join(f"o={o:.2f}: {v['accuracy']:.2f} {v['picks']}"
                                        for o, v in probe_summary[name].items() if o != "all"))
    atomic_write_csv(out_dir / f"scale_probe_trials{suffix}.csv", probe_rows)
    from sesiam_lib.evaluation import write_tables
    write_tables({name: {**{f"right picks, size x{o:.2f}": v["accuracy"] for o, v in summary.items() if o != "all"},
                         "right picks, all": summary["all"]["accuracy"],
                         "scale contrast (median)": summary["all"]["scale_contrast"]}
                  for name, summary in probe_summary.items()},
                 out_dir / f"scale_probe{suffix}")
    fig = plot_scale_selection(probe_summary, save=out_dir / f"scale_probe_{dataset}{suffix}.png",
                               title=f"Which pyramid scale does each tracker pick? {dataset}")
    plt.show()

# %% [markdown]
# ## Frame slider (JupyterLab)

# %%
frame_slider(sequence, boxes) if boxes else None
