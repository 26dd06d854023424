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
dataset = "S-MNIST"          # the benchmark the trackers will be tested on (notebook 03's dataset)
tune_data = None             # validation folder; None: the run's synthetic <dataset>/val (T-/S-MNIST), or
                             # dataset_roots["GOT-10k"]/val; OTB/VOT have no validation split: give a folder
tune_layout = "got10k"       # layout of tune_data: got10k | otb | vot
dataset_roots = {}           # real benchmark folders by dataset name
train_dataset = None         # the dataset the models were trained on (notebook 02); None: the same as `dataset`
models = ["siamfc_tiny", "se_siamfc_tiny"]   # trained models (notebook 02), as in notebook 03
seeds = [0]
model_options = {}           # build_model options by models entry
checkpoints = {}             # extra trackers: name -> dict with model, checkpoint (a path, or dataset -> path) and
                             # optional model_options (build_model options, e.g. {head: scale})
train_run = None             # the run whose notebook-02 checkpoints (and synthetic data) to use; None: this run
trials = 30                  # the same budget for every tracker (completed trials per study)
seed = 0                     # the same sampler seed for every tracker
metric = None                # auc | ao | eao; None: success AUC on T-/S-MNIST (how their test split is scored),
                             # else the layout's (got10k: ao, otb: auc, vot: eao)
tune_sequences = None        # tune on the first N validation sequences
tune_frames = None           # ... and the first F frames of each
tune_num_scales = False      # also search the pyramid size (3 or 5 scales)
workers = 1                  # processes per study
threads = 1                  # torch threads per worker: two OpenMP threads on a 2-core machine collapse when any
                             # other process competes for the cores (None: cores / workers)
storage = None               # a SQLAlchemy URL for every study (e.g. PostgreSQL, shared by machines); None: SQLite
                             # per tracker in <work_root>/<run>/tuning/<dataset>/<name>/study.db
restart_changed = False      # a study made for another objective (other weights, data ...): delete it and start afresh
                             # instead of stopping; make reproduce sets this for its own folder
device = "cpu"

# %% [markdown]
# # 05 — Tuning the tracker's hyper-parameters
#
# Every released SiamFC setting (`scale_step`, `scale_lr`, `scale_penalty`, `w_influence`) was searched per benchmark.
# This notebook searches them for each tracker of the run on the validation split (Optuna TPE, the same budget and
# seed for every tracker; `sesiam_lib.tuning`), starting from the model family's default setting, and writes each
# tracker's `best_params.json` to `<run>/tuning/<dataset>/<name>/`, which notebook 03 uses with `tuned="auto"`.
# Re-running resumes the studies (a larger `trials` extends them).

# %%
# %matplotlib inline
from pathlib import Path

import matplotlib.pyplot as plt
from IPython.display import Image, Markdown, display

from sesiam_lib.evaluation import write_tables
from sesiam_lib.pipeline.experiment import SYNTHETIC, RunPaths, checkpoint_entry, tracker_name
from sesiam_lib.tuning import tune

paths = RunPaths(run_name, results_root, work_root)
train_paths = RunPaths(train_run or run_name, results_root, work_root)
if tune_data is None:
    if dataset in SYNTHETIC:
        tune_data = train_paths.data_root(dataset) / "val"
    elif dataset.upper().startswith("GOT") and dataset_roots.get(dataset):
        tune_data = Path(dataset_roots[dataset]) / "val"
    else:
        raise ValueError(f"{dataset} has no validation split here: give tune_data (a folder of validation sequences "
                         "in the tune_layout layout); tuning on the test set itself would overfit it")
jobs = {}
for model in models:
    for s in seeds:
        name = tracker_name(model, s)
        jobs[name] = dict(model=model.split("-")[0], checkpoint=train_paths.checkpoint(train_dataset or dataset, model, s),
                          model_options=model_options.get(model, {}))
for name, entry in checkpoints.items():
    jobs[name] = checkpoint_entry(name, entry, dataset)
out_root = paths.tuning_results(dataset)
if metric is None and dataset in SYNTHETIC:
    metric = "auc"  # the synthetic test split is scored by success AUC (notebook 04)
print(len(jobs), "trackers tuned on", tune_data, f"({trials} trials each, seed {seed})")

# %%
records = {}
for name, job in jobs.items():
    study_dir = paths.work / "tuning" / dataset / name
    study_dir.mkdir(parents=True, exist_ok=True)
    records[name] = tune(job["model"], tune_data, out=out_root / name, checkpoint=job["checkpoint"],
                         dataset=tune_layout, trials=trials, study=f"{name}-{dataset}", seed=seed, metric=metric,
                         storage=storage or f"sqlite:///{study_dir / 'study.db'}", workers=workers,
                         sequences=tune_sequences, max_frames=tune_frames, tune_num_scales=tune_num_scales,
                         device=device, model_options=job["model_options"], threads=threads,
                         restart_changed=restart_changed)
    r = records[name]
    print(f"{name:28s} {r['metric']} default {r['baseline_value']:.4f} -> tuned {r['value']:.4f} ({r['trials']} trials): "
          + ", ".join(f"{k} {r[k]}" for k in ("scale_step", "scale_lr", "scale_penalty", "w_influence", "num_scales") if k in r))

# %% [markdown]
# ## Default vs tuned setting (validation)

# %%
table = {name: {f"default {r['metric']}": r["baseline_value"], f"tuned {r['metric']}": r["value"],
                **{k: r[k] for k in ("scale_step", "scale_lr", "scale_penalty", "w_influence", "num_scales") if k in r}}
         for name, r in records.items()}
print("trials per tracker:", {name: r["trials"] for name, r in records.items()})
write_tables(table, out_root / f"tuning_{dataset}", digits=4, bold_best=False)
display(Markdown((out_root / f"tuning_{dataset}.md").read_text()))
for name in records:
    display(Markdown(f"**{name}**: optimisation history"), Image(filename=str(out_root / name / "optimization_history.png")))
