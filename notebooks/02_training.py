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
dataset = "S-MNIST"          # T-MNIST | S-MNIST (generated here) | GOT-10k (give dataset_roots)
dataset_roots = {}           # real data folders by dataset name, e.g. GOT-10k: /data/GOT-10k
model = "se_siamfc_tiny"     # siamfc_tiny | se_siamfc_tiny | siamfc_resnet22 | se_siamfc_resnet22
seed = 0                     # model initialisation and pair sampling
train_preset = "auto"        # a sesiam_lib.training preset (smoke, tmnist_tiny, smnist_tiny, synthetic_v2, paper); auto: by dataset
train_overrides = []         # more training overrides: strings in the dotted key, equals, value form
data_counts = {"train": 200, "val": 20, "test": 40}   # synthetic sequences per split
num_frames = 100             # frames per synthetic sequence
data_seed = 0                # the synthetic data is the same for every model and seed
tag = ""                     # a variant's label: trains into <model>-<tag>_s<seed> (notebook 03: models entry "<model>-<tag>")
model_options = {}           # build_model options of this variant, e.g. {"padding_mode": "circular"}
restart_changed = False      # a run folder holding a run made with other settings: train it afresh (deletes it)
                             # instead of stopping; make reproduce sets this for its own folder
device = "cpu"
lr_grid = []                 # optim.lr_start values chosen from on the validation split (empty: the preset's)
lr_seed = 0                  # the seed whose grid runs choose it (run it first); lr_end: lr_start x the preset ratio

# %% [markdown]
# # 02 — Training
#
# Trains one model with a `sesiam_lib.training` preset: on the synthetic T-MNIST / S-MNIST benchmark (generated
# here if missing) or on GOT-10k. Re-running resumes from the last checkpoint. Shows samples of the training pairs
# with their labels and the loss / learning-rate curves.
#
# With `lr_grid`, the learning rate is chosen first (`sesiam_lib.training.lr_grid`): with `seed == lr_seed` one run
# per grid value (`<model>-lr<value>_s<lr_seed>`) and the value with the best validation AUC (ties: the smaller)
# written to `<results>/training/<dataset>/<model>_lr_selection.json`; every seed (lr_seed too) then trains its
# normal run `<model>_s<seed>` with the chosen value. Other seeds need that file (run `lr_seed` first).

# %%
# %matplotlib inline
import shutil
from pathlib import Path

import matplotlib.pyplot as plt

from sesiam_lib.data import PairDataset, load_got10k, synthetic_benchmark
from sesiam_lib.data.viz import plot_pairs
from sesiam_lib.models import build_model
from sesiam_lib.pipeline.experiment import SYNTHETIC, RunPaths
from sesiam_lib.training import plot_lr_grid, plot_training_log, select_lr, train

paths = RunPaths(run_name, results_root, work_root)
name = f"{model}-{tag}" if tag else model
out_dir = paths.training_results(dataset, name, seed)
out_dir.mkdir(parents=True, exist_ok=True)
if dataset in SYNTHETIC:
    data_root = paths.data_root(dataset)
    splits = synthetic_benchmark(data_root, kind=dataset, counts=data_counts, num_frames=num_frames, seed=data_seed,
                                 overwrite=True)  # other generation parameters: generate the split anew
    train_sequences = splits["train"]
    print({split: len(seqs) for split, seqs in splits.items()}, "sequences in", data_root)
else:
    if dataset not in dataset_roots:
        raise ValueError(f"give the folder of {dataset} in dataset_roots (e.g. -p dataset_roots='{{{dataset}: /data/x}}')")
    data_root = Path(dataset_roots[dataset])
    train_sequences = load_got10k(data_root, "train")
    print(len(train_sequences), "training sequences in", data_root)

# %% [markdown]
# ## Training pairs
# Template, search crop (red: positive label cells at their place in the crop) and the label map.

# %%
geometry = build_model(model, **model_options)
pairs = PairDataset(train_sequences[:50], geometry.exemplar_size, geometry.instance_size, geometry.score_size,
                    geometry.total_stride, seed=seed, pairs_per_epoch=64)
fig = plot_pairs(pairs, indices=(0, 1, 2), save=out_dir / "training_pairs.png")
plt.show()

# %% [markdown]
# ## Train

# %%
overrides = [f"model={model}", f"seed={seed}", f"device={device}", f"run_dir={paths.train_dir(dataset, name, seed)}",
             f"data.root={data_root}", "resume=auto", "progress=false"]
overrides += [f"model_kwargs.{key}={value}" for key, value in model_options.items()]
if dataset not in SYNTHETIC:
    overrides.append("data.dataset=got10k")
else:  # dataset-agnostic presets (synthetic_v2): generate (only if data.root were empty) this dataset
    overrides += [f"data.generate.kind={dataset}", f"validation.generate.kind={dataset}"]
preset = train_preset if train_preset != "auto" else {"T-MNIST": "tmnist_tiny", "S-MNIST": "smnist_tiny"}.get(dataset, "paper")
print("training preset:", preset)
overrides += list(train_overrides)
selection = None
if lr_grid:
    selection = select_lr(lr_grid, paths=paths, dataset=dataset, name=name, seed=seed, lr_seed=lr_seed,
                          preset=preset, overrides=overrides, restart_changed=restart_changed)
    for run in selection["runs"]:
        print(f"  lr_start {run['lr_start']:g}: best validation AUC {run['best_auc']:.4f} at epoch "
              f"{run['best_epoch']}, last epoch {run['stop_epoch']}{' (plateau)' if run['stopped_early'] else ''}")
    print("chosen:", selection["chosen"], "->", selection["path"])
    overrides += selection["overrides"]
result = train(preset=preset, overrides=overrides, restart_changed=restart_changed)
print("epochs:", result.epochs_completed, "steps:", result.global_step, "skipped steps:", result.skipped_steps)
print("best epoch:", result.best_epoch, "validation AUC:", result.best_metric)
if result.stopped_early:
    print(f"stopped early after epoch {result.stop_epoch}: validation plateau")
print("final checkpoint:", result.final_checkpoint)
for log in (result.log_steps, result.log_epochs):
    shutil.copyfile(log, out_dir / Path(log).name)  # small CSV logs next to the other reviewable outputs

# %%
fig = plot_training_log(result.run_dir)
fig.savefig(out_dir / "training_curves.png", dpi=120)
fig

# %% [markdown]
# ## Learning-rate grid
# Validation AUC per epoch of each grid run (seed `lr_seed`); the chosen value in bold, best epochs starred.

# %%
if selection is not None:
    fig = plot_lr_grid(selection)
    fig.savefig(out_dir / "lr_grid.png", dpi=120)
    plt.show()
else:
    print("no lr_grid: the preset's learning rate")
