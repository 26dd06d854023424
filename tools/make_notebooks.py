"""Writes notebooks/0*.ipynb. The notebooks' source lives here so that it can be reviewed as code.

    .venv/bin/python tools/make_notebooks.py
"""
import hashlib
from pathlib import Path

import nbformat as nbf

OUT = Path(__file__).resolve().parents[1] / "notebooks"
COMMON_PARAMS = '''run_name = "dev"            # results go to <results_root>/<run_name>, checkpoints/data to <work_root>/<run_name>
results_root = "../results"
work_root = "../runs"'''


class Notebook:
    def __init__(self):
        self.cells = []

    def md(self, text):
        self.cells.append(nbf.v4.new_markdown_cell(text.strip()))

    def code(self, text, tags=None):
        cell = nbf.v4.new_code_cell(text.strip())
        if tags:
            cell.metadata["tags"] = tags
        self.cells.append(cell)

    def write(self, name):
        nb = nbf.v4.new_notebook()
        for index, cell in enumerate(self.cells):  # stable ids: regenerating an unchanged notebook changes nothing
            cell["id"] = hashlib.sha1(f"{name}:{index}".encode()).hexdigest()[:8]
        nb.cells = self.cells
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.metadata["language_info"] = {"name": "python"}
        text = nbf.writes(nb) + "\n"
        target = OUT / name
        if target.is_file() and target.read_text(encoding="utf-8") == text:
            print("unchanged", target)
            return
        # a pipeline may be reading these files while they are regenerated: replace, never truncate
        tmp = target.with_suffix(".ipynb.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(target)
        print("wrote", target)


# ---------------------------------------------------------------- 01 equivariance
nb = Notebook()
nb.code(COMMON_PARAMS + '''
image_size = 192          # photographs resized to this side (FACTS §8)
scale_ratio = 1.4         # ratio between neighbouring scales of the SE layers
border = 0.2              # fraction cropped from each side before the error is computed
channels = 32             # output channels of the randomly initialised layers
seed = 0
ratios = [1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.8, 2.0]
full_models = True        # also measure whole SE-ResNet-22 vs CIResNet-22 backbones (random init)
model_image_size = 383    # input side for the whole-backbone measurement (FACTS §8)
model_border = 0.15
random_layers = True      # the random-weight sections (bases, single layers, error vs ratio); False: models only
trained = []              # trained models to measure (at model_image_size): dicts with model ("<model>" or a tagged
                          # variant "<model>-<tag>"), either checkpoint (a path) or dataset and seed (a run's
                          # notebook-02 checkpoint), optional model_options (build_model options) and label
trained_init = True       # also measure each trained architecture at random initialisation, for comparison
equivariance_dir = "equivariance"   # subfolder of results/<run_name> for this notebook's files
''', tags=["parameters"])
nb.md(r'''
# 01 — Scale equivariance checks

How exactly do SE-SiamFC's scale convolutions commute with rescaling? For an input $x$, a downscale $D$ by the
ratio between neighbouring scales and a map $\Phi$ with a scale axis, the relative error is

$$\Delta = \frac{\sum_s \lVert D(\Phi(x))_{s+1} - \Phi(D(x))_s \rVert^2}{\sum_s \lVert D(\Phi(x))_{s+1} \rVert^2}$$

(borders cropped, $D$ an antialiased bilinear resize; see `sesiam_lib.sesn.equivariance`). Maps without a scale
axis (plain CNNs) are compared without the shift. Everything is computed by `sesiam_lib`; this notebook calls it and draws.
''')
nb.code('''
%matplotlib inline
from pathlib import Path

import matplotlib.pyplot as plt
import torch

from sesiam_lib.core.io import atomic_write_csv, atomic_write_text
from sesiam_lib.sesn import downscale, hermite_basis, natural_images, se_scales, viz
from sesiam_lib.sesn.checks import build_reference_layer, error_vs_ratio, measure_reference_layers

torch.manual_seed(seed)
out_dir = Path(results_root) / run_name / equivariance_dir
out_dir.mkdir(parents=True, exist_ok=True)
images = natural_images(image_size)
print("images:", tuple(images.shape), "->", out_dir.resolve())
''')
nb.md('## The Hermite–Gaussian basis at each scale\nStem basis (K 9, E 7) and middle basis (K 5, E 3): the small scales have exact zeros outside their inner support.')
nb.code('''
if random_layers:
    fig = viz.plot_basis(hermite_basis(9, se_scales(), 7), functions=[0, 1, 7, 8, 16, 24, 48], scales=se_scales(),
                         save=out_dir / "basis_k9_e7.png")
    plt.show()
    fig = viz.plot_basis(hermite_basis(5, se_scales(), 3), functions=range(9), scales=se_scales(),
                         save=out_dir / "basis_k5_e3.png")
    plt.show()
''')
nb.md('## Single and stacked layers, zero vs circular padding, SES vs plain convolution')
nb.code('''
if random_layers:
    rows = []
    for crop in (border, 0.0):
        rows += measure_reference_layers(images, scale_ratio=scale_ratio, border=crop, channels=channels, seed=seed)
    atomic_write_csv(out_dir / "equivariance_layers.csv", rows)
    for row in rows:
        print(f"{row['layer']:24s} {row['padding']:9s} border={row['border']:.2f}  error={row['error']:.4f}")
    fig = viz.plot_equivariance_bars([r for r in rows if r["border"] == border],
                                     title=f"Equivariance error, random weights, {len(images)} photos at {image_size} px",
                                     save=out_dir / "equivariance_layers.png")
    plt.show()
''')
nb.md('''
Reading the numbers: the stem (9×9 support at every scale) is nearly exact; the 5×5 middle convs are an order of
magnitude worse because their two small scales have only 3×3 support; the interscale 1×1 (scale_size 2) loses
equivariance at the last scale, where its second tap falls off the scale axis. With a 20 % border crop the padding
mode cannot reach the measured part of a single layer; it matters for deep stacks (whole backbones below).
''')
nb.md("## Error against the downscale ratio\\nThe error should be smallest at the layers' own scale ratio (1.4).")
nb.code('''
if random_layers:
    curves = {name: error_vs_ratio(build_reference_layer(name, channels, "constant", seed), images, ratios, border)
              for name in ["stem Z2->H K9 E7", "middle Z2->H K5 E3", "plain 7x7 zero-mean"]}
    atomic_write_csv(out_dir / "equivariance_vs_ratio.csv",
                     [{"layer": n, "ratio": r, "error": e} for n, values in curves.items() for r, e in zip(ratios, values)])
    fig = viz.plot_error_vs_ratio(ratios, curves, save=out_dir / "equivariance_vs_ratio.png")
    plt.show()
''')
nb.md('## What the stem sees: responses per scale for an image and its downscaled copy')
nb.code('''
if random_layers:
    stem = build_reference_layer("stem Z2->H K9 E7", channels, "constant", seed)
    with torch.no_grad():
        phi_x, phi_dx = stem(images[:1]), stem(downscale(images[:1], scale_ratio))
    fig = viz.plot_scale_responses(phi_x, phi_dx, save=out_dir / "stem_scale_responses.png")
    plt.show()
''')
nb.md('''
## Whole backbones, per stage: SE-ResNet-22 vs CIResNet-22, and the trained tiny models

At `model_image_size` with a `model_border` crop (FACTS §8: 383 px, 15 %): the full backbones at random initialisation, and the models given in `trained`
(with each trained architecture at random initialisation for comparison; several seeds are averaged, ± one standard
deviation). The error of each stage is that of the stack up to it. CIResNet-22 and SiamFC+ tiny have no scale axis,
so their maps are compared without a shift: for them the number measures how far the features are from simply
commuting with the downscale.
''')
nb.code('''
from sesiam_lib.models import build_model, load_checkpoint
from sesiam_lib.pipeline.experiment import RunPaths, display_name
from sesiam_lib.sesn.checks import measure_backbone_stages, scale_usage, summarize_stage_errors

model_rows, usage_rows = [], []
def measure(group, model, size, crop, **info):
    pictures = natural_images(size) * 255.0
    rows = measure_backbone_stages(model, pictures, scale_ratio=scale_ratio, border=crop, group=group, **info)
    for row in rows:
        print(f"{group:40s} {row.get('seed', ''):>2} {row['stage']:8s} {row['error']:.4f}")
    model_rows.extend(rows)
    usage_rows.extend(scale_usage(model, pictures, group=group, **info))

if full_models:
    for label, name, padding in [("SE-ResNet-22 (zero padding)", "se_siamfc_resnet22", "constant"),
                                 ("SE-ResNet-22 (circular padding)", "se_siamfc_resnet22", "circular"),
                                 ("CIResNet-22", "siamfc_resnet22", None)]:
        torch.manual_seed(seed)
        model = build_model(name, padding_mode=padding) if padding else build_model(name)
        measure(label, model, model_image_size, model_border)
paths = RunPaths(run_name, results_root, work_root)
for architecture in dict.fromkeys(entry["model"].split("-")[0] for entry in trained) if trained_init else []:
    torch.manual_seed(seed)
    measure(f"{display_name(architecture)} (random init)", build_model(architecture), model_image_size, model_border)
for entry in trained:
    model = build_model(entry["model"].split("-")[0], **entry.get("model_options", {}))
    if "checkpoint" in entry:
        checkpoint, group = entry["checkpoint"], entry.get("label", display_name(entry["model"]))
    else:
        checkpoint = paths.checkpoint(entry["dataset"], entry["model"], entry["seed"])
        group = entry.get("label", f"{display_name(entry['model'])} trained on {entry['dataset']}")
    load_checkpoint(model, checkpoint)
    measure(group, model, model_image_size, model_border, seed=entry.get("seed", ""))
if model_rows:
    summary = summarize_stage_errors(model_rows)
    atomic_write_csv(out_dir / "equivariance_models.csv", model_rows)
    atomic_write_csv(out_dir / "equivariance_models_summary.csv", summary)
    stages = list(dict.fromkeys(row["stage"] for row in summary))
    lines = ["| model | " + " | ".join(stages) + " |", "|---" * (len(stages) + 1) + "|"]
    for group in dict.fromkeys(row["group"] for row in summary):
        cells = {row["stage"]: row for row in summary if row["group"] == group}
        lines.append(f"| {group} | " + " | ".join(
            f"{cells[s]['mean']:.3f}" + (f" ± {cells[s]['std']:.3f}" if cells[s]["n"] > 1 else "") for s in stages) + " |")
    atomic_write_text(out_dir / "equivariance_models.md", "\\n".join(lines) + "\\n")
    print("\\n".join(lines))
    fig = viz.plot_stage_errors(summary, save=out_dir / "equivariance_models.png")
    plt.show()
usage_text = "no model with a scale axis measured"
if usage_rows:
    # where the max over scales falls: scale pooling is shift-invariant only where it is at an interior scale
    usage = summarize_stage_errors([{**r, "error": r["boundary_share"]} for r in usage_rows])
    atomic_write_csv(out_dir / "scale_usage.csv", usage_rows)
    stages = list(dict.fromkeys(row["stage"] for row in usage))
    lines = ["| model: share of elements whose max over scales is at the first or last scale | "
             + " | ".join(stages) + " |", "|---" * (len(stages) + 1) + "|"]
    for group in dict.fromkeys(row["group"] for row in usage):
        cells = {row["stage"]: row for row in usage if row["group"] == group}
        lines.append(f"| {group} | " + " | ".join(f"{cells[s]['mean']:.2f}" if s in cells else "-" for s in stages) + " |")
    usage_text = "\\n".join(lines)
    atomic_write_text(out_dir / "scale_usage.md", usage_text + "\\n")
print(usage_text)
''')
nb.md('## Interactive explorer\nIn JupyterLab, change the layer, padding and scale ratio. (Headless runs keep the static figures above.)')
nb.code('viz.equivariance_explorer(images, channels=16)')
nb.write("01_equivariance.ipynb")

# ---------------------------------------------------------------- 02 training
nb = Notebook()
nb.code(COMMON_PARAMS + '''
dataset = "S-MNIST"          # T-MNIST | S-MNIST (generated here) | GOT-10k (give dataset_roots)
dataset_roots = {}           # real data folders by dataset name, e.g. GOT-10k: /data/GOT-10k
model = "se_siamfc_tiny"     # siamfc_tiny | se_siamfc_tiny | siamfc_resnet22 | se_siamfc_resnet22
seed = 0                     # model initialisation and pair sampling
train_preset = "auto"        # a sesiam_lib.training preset (smoke, tmnist_tiny, smnist_tiny, paper); auto: by dataset
train_overrides = []         # more training overrides: strings in the dotted key, equals, value form
data_counts = {"train": 200, "val": 20, "test": 40}   # synthetic sequences per split
num_frames = 100             # frames per synthetic sequence
data_seed = 0                # the synthetic data is the same for every model and seed
tag = ""                     # a variant's label: trains into <model>-<tag>_s<seed> (notebook 03: models entry "<model>-<tag>")
model_options = {}           # build_model options of this variant, e.g. {"padding_mode": "circular"}
device = "cpu"
''', tags=["parameters"])
nb.md('''
# 02 — Training

Trains one model with a `sesiam_lib.training` preset: on the synthetic T-MNIST / S-MNIST benchmark (generated
here if missing) or on GOT-10k. Re-running resumes from the last checkpoint. Shows samples of the training pairs
with their labels and the loss / learning-rate curves.
''')
nb.code('''
%matplotlib inline
import shutil
from pathlib import Path

import matplotlib.pyplot as plt

from sesiam_lib.data import PairDataset, load_got10k, synthetic_benchmark
from sesiam_lib.data.viz import plot_pairs
from sesiam_lib.models import build_model
from sesiam_lib.pipeline.experiment import SYNTHETIC, RunPaths
from sesiam_lib.training import plot_training_log, train

paths = RunPaths(run_name, results_root, work_root)
name = f"{model}-{tag}" if tag else model
out_dir = paths.training_results(dataset, name, seed)
out_dir.mkdir(parents=True, exist_ok=True)
if dataset in SYNTHETIC:
    data_root = paths.data_root(dataset)
    splits = synthetic_benchmark(data_root, kind=dataset, counts=data_counts, num_frames=num_frames, seed=data_seed)
    train_sequences = splits["train"]
    print({split: len(seqs) for split, seqs in splits.items()}, "sequences in", data_root)
else:
    if dataset not in dataset_roots:
        raise ValueError(f"give the folder of {dataset} in dataset_roots (e.g. -p dataset_roots='{{{dataset}: /data/x}}')")
    data_root = Path(dataset_roots[dataset])
    train_sequences = load_got10k(data_root, "train")
    print(len(train_sequences), "training sequences in", data_root)
''')
nb.md('## Training pairs\nTemplate, search crop (red: positive label cells at their place in the crop) and the label map.')
nb.code('''
geometry = build_model(model, **model_options)
pairs = PairDataset(train_sequences[:50], geometry.exemplar_size, geometry.instance_size, geometry.score_size,
                    geometry.total_stride, seed=seed, pairs_per_epoch=64)
fig = plot_pairs(pairs, indices=(0, 1, 2), save=out_dir / "training_pairs.png")
plt.show()
''')
nb.md('## Train')
nb.code('''
overrides = [f"model={model}", f"seed={seed}", f"device={device}", f"run_dir={paths.train_dir(dataset, name, seed)}",
             f"data.root={data_root}", "resume=auto", "progress=false"]
overrides += [f"model_kwargs.{key}={value}" for key, value in model_options.items()]
if dataset not in SYNTHETIC:
    overrides.append("data.dataset=got10k")
preset = train_preset if train_preset != "auto" else {"T-MNIST": "tmnist_tiny", "S-MNIST": "smnist_tiny"}.get(dataset, "paper")
print("training preset:", preset)
result = train(preset=preset, overrides=overrides + list(train_overrides))
print("epochs:", result.epochs_completed, "steps:", result.global_step, "skipped steps:", result.skipped_steps)
print("best epoch:", result.best_epoch, "validation AUC:", result.best_metric)
print("final checkpoint:", result.final_checkpoint)
for log in (result.log_steps, result.log_epochs):
    shutil.copyfile(log, out_dir / Path(log).name)  # small CSV logs next to the other reviewable outputs
''')
nb.code('''
fig = plot_training_log(result.run_dir)
fig.savefig(out_dir / "training_curves.png", dpi=120)
fig
''')
nb.write("02_training.ipynb")

# ---------------------------------------------------------------- 03 tracking
nb = Notebook()
nb.code(COMMON_PARAMS + '''
dataset = "S-MNIST"          # T-MNIST | S-MNIST | OTB2013 | OTB2015 | VOT2016 | VOT2017 | GOT-10k
dataset_roots = {}           # real benchmark folders by dataset name, e.g. OTB2015: /data/OTB100
train_dataset = None         # the dataset the models were trained on (notebook 02); None: the same as `dataset`
models = ["siamfc_tiny", "se_siamfc_tiny"]   # trained models (notebook 02); a variant trained with a tag: "<model>-<tag>"
seeds = [0]                  # trained seeds to track with (checkpoints from notebook 02)
model_options = {}           # build_model options by models entry, e.g. {"se_siamfc_tiny-circular": {"padding_mode": "circular"}}
checkpoints = {}             # extra trackers (e.g. released files): name -> dict with model and checkpoint (a path, or dataset -> path)
tracker_benchmark = None     # released hyper-parameters to use (OTB2013, OTB2015, VOT2016, VOT2017); None: the dataset's if tuned, else OTB2015
hyper_family = None          # give every tracker this family's released hyper-parameters ("SiamFC+" or "SE-SiamFC");
                             # None: each model its own family's, as in the paper
tracker_tag = ""             # appended to the result folder names, <model>-<tag>_s<seed>, to keep variants apart
train_run = None             # the run whose notebook-02 checkpoints (and synthetic data) to use; None: this run
max_sequences = None         # track only the first N sequences
workers = 1                  # processes
device = "cpu"
show_sequence = 0            # which sequence to draw and animate
scale_probe_frames = 0       # frames per sequence for the scale-decision probe (0: skip it)
scale_probe_offsets = [0.8, 1.0, 1.25]   # size-estimate errors the probe places the tracker with
animation_frames = 60
''', tags=["parameters"])
nb.md('''
# 03 — Tracking

Runs the released SiamFC tracking procedure with every trained (or given) model over a benchmark, writes
OTB-format (or VOT baseline) result files, and shows what the trackers did: frames with ground truth and each
tracker's box, the per-scale response maps, an animation, and (in JupyterLab) a frame slider.
''')
nb.code('''
%matplotlib inline
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from sesiam_lib.evaluation import read_otb_result
from sesiam_lib.pipeline.experiment import (OTB, VOT, RunPaths, benchmark_protocol, display_name, load_benchmark,
                                            tracker_name)
from sesiam_lib.tracking import TrackerFactory, run_otb, run_vot, tracker_params
from sesiam_lib.tracking.runners import track_sequence
from sesiam_lib.tracking.visualize import animate_sequence, plot_response_maps
from sesiam_lib.tracking.widgets import frame_grid, frame_slider

paths = RunPaths(run_name, results_root, work_root)
train_paths = RunPaths(train_run or run_name, results_root, work_root)
sequences = load_benchmark(dataset, train_paths, dataset_roots.get(dataset), max_sequences=max_sequences)
out_dir = paths.tracking_results(dataset)
out_dir.mkdir(parents=True, exist_ok=True)
hyper = tracker_benchmark or (dataset if dataset in OTB + VOT else "OTB2015")
suffix = f"_{tracker_tag}" if tracker_tag else ""  # keeps the figures of tagged variants apart
shared_hyper = tracker_params(hyper_family, hyper) if hyper_family else {}
factories = {}
for model in models:
    for seed in seeds:
        name = tracker_name(f"{model}-{tracker_tag}" if tracker_tag else model, seed)
        checkpoint = train_paths.checkpoint(train_dataset or dataset, model, seed)
        factories[name] = TrackerFactory(model.split("-")[0], checkpoint=str(checkpoint), benchmark=hyper, device=device,
                                         name=name, model_options=model_options.get(model, {}),
                                         tracker_options=shared_hyper)
for name, entry in checkpoints.items():
    checkpoint = entry["checkpoint"][dataset] if isinstance(entry["checkpoint"], dict) else entry["checkpoint"]
    factories[name] = TrackerFactory(entry["model"], checkpoint=checkpoint, benchmark=hyper, device=device, name=name)
print(len(sequences), "sequences;", "trackers:", list(factories), "; hyper-parameters:", hyper, shared_hyper or "")
''')
nb.code('''
runner = run_vot if benchmark_protocol(dataset) == "vot" else run_otb
records = {}
for name, factory in factories.items():
    records[name] = runner(factory, sequences, out_dir, name, workers=workers, benchmark=hyper, progress=False)
    fps = records[name].get("mean_fps")
    print(f"{name:24s} mean FPS", "n/a" if fps is None else f"{fps:.1f}")
''')
nb.md("## Frames with ground truth (dashed) and each tracker's box")
nb.code('''
sequence = sequences[show_sequence]
boxes = {}
if benchmark_protocol(dataset) == "otb":
    for name in factories:
        boxes[name] = read_otb_result(out_dir / name / f"{sequence.name}.txt")[:len(sequence)]
    fig = frame_grid(sequence, boxes)
    fig.savefig(out_dir / f"frames_{sequence.name}{suffix}.png", dpi=100)
    plt.show()
''')
nb.md('## Per-scale response maps of each tracker on one frame')
nb.code('''
probe = min(len(sequence) - 1, 20)
for name, factory in factories.items():
    if not name.endswith(f"_s{seeds[0]}") and name not in checkpoints:
        continue
    debug = track_sequence(factory(), sequence, debug=True, max_frames=probe + 1)["debug"][-1]
    fig = plot_response_maps(debug)
    fig.suptitle(f"{name}: frame {probe + 1}, chosen scale {debug.get('best_scale')}")
    fig.savefig(out_dir / f"responses_{name}_{sequence.name}.png", dpi=100)
    plt.show()
''')
nb.md('## Animation')
nb.code('''
if boxes:
    gif = animate_sequence(sequence, boxes, out_dir / f"{sequence.name}{suffix}.gif", fps=8,
                           frames=range(0, min(len(sequence), animation_frames)), max_side=192)
    print("wrote", gif, f"({gif.stat().st_size / 1e3:.0f} kB)")
''')
nb.md('''
## Scale-decision probe

The tracker estimates size only through its 3-scale pyramid. Placed on the true centre with a size estimate that
is off by a factor *o* (template from the first frame, as in tracking), does it pick the pyramid scale that corrects
it? (`sesiam_lib.tracking.scale_probe`; o = 1: the right pick is the middle scale.)
''')
nb.code('''
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
''')
nb.md('## Frame slider (JupyterLab)')
nb.code('''
frame_slider(sequence, boxes) if boxes else None
''')
nb.write("03_tracking.ipynb")

# ---------------------------------------------------------------- 04 benchmark
nb = Notebook()
nb.code(COMMON_PARAMS + '''
datasets = ["T-MNIST", "S-MNIST"]   # one-pass benchmarks to evaluate (their results from notebook 03)
dataset_roots = {}                 # real benchmark folders by dataset name, e.g. VOT2016: /data/VOT2016
baseline = "siamfc_tiny"           # the comparison: does `challenger` beat `baseline`?
challenger = "se_siamfc_tiny"
comparisons = []                   # more [baseline, challenger] pairs for the verdict (e.g. tagged variants)
train_run = None                   # the run whose synthetic data was tracked (notebook 03's train_run); None: this run
''', tags=["parameters"])
nb.md('''
# 04 — Benchmark plots and tables

Success and precision plots, the per-attribute breakdown (scale change for the synthetic sets, OTB attributes for
OTB), EAO for VOT results, and the paper-style table (CSV, Markdown, LaTeX) with mean ± std over training seeds.
''')
nb.code('''
%matplotlib inline
from pathlib import Path

from IPython.display import Markdown, display

from sesiam_lib.core.io import atomic_write_json, atomic_write_text
from sesiam_lib.evaluation import evaluate_otb, evaluate_vot_trackers, write_tables
from sesiam_lib.evaluation import plots
from sesiam_lib.evaluation.aggregate import aggregate_over_seeds, format_mean_std
from sesiam_lib.pipeline.experiment import VOT, RunPaths, display_name, load_benchmark

paths = RunPaths(run_name, results_root, work_root)
data_paths = RunPaths(train_run or run_name, results_root, work_root)
out_dir = paths.benchmark()
out_dir.mkdir(parents=True, exist_ok=True)
results = {}
for dataset in datasets:
    if dataset in VOT:
        continue
    sequences = load_benchmark(dataset, data_paths, dataset_roots.get(dataset))
    results[dataset] = evaluate_otb(paths.tracking_results(dataset), sequences)
    for name, r in results[dataset].items():
        print(f"{dataset:8s} {name:24s} AUC {r.success_auc:.3f}  Prec@20 {r.precision:.3f}  NormPrec {r.norm_precision:.3f}")
''')
nb.md('## Success and precision plots')
nb.code('''
for dataset, res in results.items():
    display(plots.plot_success(res, out_dir / f"success_{dataset}.png", title=f"Success plot, {dataset}"))
    display(plots.plot_precision(res, out_dir / f"precision_{dataset}.png", title=f"Precision plot, {dataset}"))
''')
nb.md('## Breakdown by attribute (scale change for the synthetic sets)')
nb.code('''
for dataset, res in results.items():
    if any(r.per_attribute for r in res.values()):
        display(plots.plot_attribute_bars(res, out_dir / f"attributes_{dataset}.png",
                                          title=f"Success AUC per attribute, {dataset}"))
''')
nb.md('## The table (mean ± std over seeds)')
nb.code('''
table, breakdown, summary = {}, {}, {}
for dataset, res in results.items():
    stats = aggregate_over_seeds(res)
    summary[dataset] = stats
    for base, metrics in stats.items():
        row = table.setdefault(display_name(base), {})
        row[f"{dataset} AUC"] = format_mean_std(metrics["success_auc"])
        row[f"{dataset} Prec@20"] = format_mean_std(metrics["precision"])
    attributes = sorted({a for r in res.values() for a in r.per_attribute})
    for attribute in attributes:
        for base, metrics in aggregate_over_seeds(res, attribute=attribute).items():
            breakdown.setdefault(display_name(base), {})[f"{dataset} {attribute}"] = format_mean_std(metrics["success_auc"])
write_tables(table, out_dir / "table")
if breakdown:
    write_tables(breakdown, out_dir / "table_attributes")
atomic_write_json(out_dir / "summary.json", summary)
display(Markdown((out_dir / "table.md").read_text()))
if breakdown:
    display(Markdown((out_dir / "table_attributes.md").read_text()))
''')
nb.md('## Verdict')
nb.code('''
lines = []
for dataset, stats in summary.items():
    for base, chall in [[baseline, challenger]] + [list(pair) for pair in comparisons]:
        if base in stats and chall in stats:
            b, c = stats[base]["success_auc"], stats[chall]["success_auc"]
            diff = c["mean"] - b["mean"]
            lines.append(f"- {dataset}: {display_name(chall)} AUC {format_mean_std(c)} vs {display_name(base)} "
                         f"{format_mean_std(b)} (difference {diff:+.3f}, {c['n']} seed(s))")
verdict = "\\n".join(lines) or "- no pair of trackers to compare"
atomic_write_text(out_dir / "verdict.md", "### Verdict\\n\\n" + verdict + "\\n")
display(Markdown(verdict))
''')
nb.md('''
## Does each tracker follow the target's scale?

The search crop of frame t is cut at the tracker's size estimate from frame t − 1, so the target appears in it at
scale a = true size / previous estimate relative to the template. The histogram shows which scale changes the
backbones had to match across (dotted: one step, ×1.4, of SE-SiamFC's scale axis); a mean of log2 a below 0 means
the boxes are too large. See `sesiam_lib.evaluation.scale_following`.
''')
nb.code('''
from sesiam_lib.evaluation import scale_following

following_rows = {}
for dataset in results:
    sequences = load_benchmark(dataset, data_paths, dataset_roots.get(dataset))
    following = scale_following(paths.tracking_results(dataset), sequences, trackers=list(results[dataset]))
    display(plots.plot_apparent_scales(following, out_dir / f"apparent_scales_{dataset}.png",
                                       title=f"Apparent target scale in the search crop, {dataset}"))
    for name, f in following.items():
        following_rows[f"{dataset} {name}"] = {"frames outside x1.4": f["frac_outside"], "mean log2 a": f["mean_log2"],
                                                "median abs log2 a": f["median_abs_log2"]}
if following_rows:
    write_tables(following_rows, out_dir / "scale_following", bold_best=False)
    display(Markdown((out_dir / "scale_following.md").read_text()))
''')
nb.md('## VOT (EAO) when VOT results exist')
nb.code('''
for dataset in datasets:
    if dataset not in VOT:
        continue
    eao = evaluate_vot_trackers(paths.tracking_results(dataset), dataset_roots[dataset], dataset)
    display(plots.plot_eao_curves(eao, out_dir / f"eao_curves_{dataset}.png", title=f"EAO curves, {dataset}"))
    display(plots.plot_eao_ranking(eao, out_dir / f"eao_ranking_{dataset}.png", title=f"EAO, {dataset}"))
    for name, r in eao.items():
        table.setdefault(display_name(name), {})[f"{dataset} EAO"] = r["eao"]
    write_tables(table, out_dir / "table")
''')
nb.write("04_benchmark.ipynb")
