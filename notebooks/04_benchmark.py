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
datasets = ["T-MNIST", "S-MNIST"]   # one-pass benchmarks to evaluate (their results from notebook 03)
dataset_roots = {}                 # real benchmark folders by dataset name, e.g. VOT2016: /data/VOT2016
baseline = "siamfc_tiny"           # the comparison: does `challenger` beat `baseline`?
challenger = "se_siamfc_tiny"
comparisons = []                   # more [baseline, challenger] pairs for the verdict (e.g. tagged variants)
train_run = None                   # the run whose synthetic data was tracked (notebook 03's train_run); None: this run
limit_sequences = None             # DRY RUN (as given to notebook 03): the first N sequences present in each tree
limit_frames = None                # DRY RUN (as given to notebook 03): the first M frames of each sequence
vot_overlap = "continuous"         # VOT region overlap: continuous | pixels (the VOT2016/2017 toolkit's, as published)
bootstrap = True                   # paired bootstrap intervals of challenger − baseline (seeds x sequences), per pair
bootstrap_resamples = 10000        # ... resamples, seed and level
bootstrap_seed = 0
bootstrap_confidence = 0.95

# %% [markdown]
# # 04 — Benchmark plots and tables
#
# Success and precision plots, the per-attribute breakdown (scale change for the synthetic sets, OTB attributes for
# OTB), EAO for VOT results, and the paper-style table (CSV, Markdown, LaTeX) with mean ± std over training seeds.

# %%
# %matplotlib inline
from pathlib import Path

from IPython.display import Markdown, display

from sesiam_lib.core.io import atomic_write_json, atomic_write_text
from sesiam_lib.evaluation import evaluate_otb, evaluate_vot_trackers, write_tables
from sesiam_lib.evaluation import plots
from sesiam_lib.evaluation.aggregate import aggregate_over_seeds, format_mean_std, split_seed
from sesiam_lib.pipeline.experiment import (VOT, RunPaths, display_name, dry_run_eao_range, load_benchmark,
                                            write_dry_run_note)

paths = RunPaths(run_name, results_root, work_root)
data_paths = RunPaths(train_run or run_name, results_root, work_root)
out_dir = paths.benchmark()
out_dir.mkdir(parents=True, exist_ok=True)
if write_dry_run_note(paths, limit_sequences, limit_frames):
    display(Markdown("**DRY RUN** (`limit_sequences` / `limit_frames` set): these numbers are not the benchmarks'."))
results, benchmark_sequences = {}, {}
for dataset in datasets:
    if dataset in VOT:
        continue
    sequences = load_benchmark(dataset, data_paths, dataset_roots.get(dataset), limit_sequences=limit_sequences,
                               limit_frames=limit_frames)
    benchmark_sequences[dataset] = sequences
    results[dataset] = evaluate_otb(paths.tracking_results(dataset), sequences)
    for name, r in results[dataset].items():
        print(f"{dataset:8s} {name:24s} AUC {r.success_auc:.3f}  Prec@20 {r.precision:.3f}  NormPrec {r.norm_precision:.3f}")

# %% [markdown]
# ## Success and precision plots

# %%
for dataset, res in results.items():
    display(plots.plot_success(res, out_dir / f"success_{dataset}.png", title=f"Success plot, {dataset}"))
    display(plots.plot_precision(res, out_dir / f"precision_{dataset}.png", title=f"Precision plot, {dataset}"))

# %% [markdown]
# ## Breakdown by attribute (scale change for the synthetic sets)

# %%
for dataset, res in results.items():
    if any(r.per_attribute for r in res.values()):
        display(plots.plot_attribute_bars(res, out_dir / f"attributes_{dataset}.png",
                                          title=f"Success AUC per attribute, {dataset}"))

# %% [markdown]
# ## The table (mean ± std over seeds)

# %%
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

# %% [markdown]
# ## Verdict

# %%
lines = []
for dataset, stats in summary.items():
    for base, chall in [[baseline, challenger]] + [list(pair) for pair in comparisons]:
        if base in stats and chall in stats:
            b, c = stats[base]["success_auc"], stats[chall]["success_auc"]
            diff = c["mean"] - b["mean"]
            lines.append(f"- {dataset}: {display_name(chall)} AUC {format_mean_std(c)} vs {display_name(base)} "
                         f"{format_mean_std(b)} (difference {diff:+.3f}, {c['n']} seed(s))")
verdict = "\n".join(lines) or "- no pair of trackers to compare"
atomic_write_text(out_dir / "verdict.md", "### Verdict\n\n" + verdict + "\n")
display(Markdown(verdict))

# %% [markdown]
# ## Paired bootstrap intervals of challenger − baseline
#
# For each pair (`baseline`, `challenger`, then `comparisons`) and one-pass dataset: the success AUC of each tracker
# (mean ± std over seeds), the mean paired difference (seed i of both, the same sequences) and its 95 % percentile
# interval from a two-way bootstrap that resamples seeds and sequences independently, overall and per scale-change bin
# (`sesiam_lib.evaluation.compare_paired`). Saved as `paired_bootstrap.{csv,md,tex}` (the CSV with unrounded numbers).

# %%
from sesiam_lib.evaluation import compare_paired, write_paired_comparison

paired_rows = []
if bootstrap:
    for dataset, res in results.items():
        for base, chall in [[baseline, challenger]] + [list(pair) for pair in comparisons]:
            if base not in summary[dataset] or chall not in summary[dataset]:
                print(f"{dataset}: no results of {base if base not in summary[dataset] else chall}; skipped")
                continue
            try:
                paired_rows += compare_paired(res, base, chall, sequences=benchmark_sequences[dataset],
                                              dataset=dataset, n_resamples=bootstrap_resamples, seed=bootstrap_seed,
                                              confidence=bootstrap_confidence)
            except (KeyError, ValueError) as exc:  # e.g. a released tracker without seeds, no common seed
                print(f"{dataset}: {chall} vs {base} not paired: {exc}")
if paired_rows:
    paired_files = write_paired_comparison(paired_rows, out_dir / "paired_bootstrap")
    display(Markdown(paired_files["md"].read_text()))

# %% [markdown]
# ## Does each tracker follow the target's scale?
#
# The search crop of frame t is cut at the tracker's size estimate from frame t − 1, so the target appears in it at
# scale a = true size / previous estimate relative to the template. The histogram shows which scale changes the
# backbones had to match across (dotted: one step, ×1.4, of SE-SiamFC's scale axis); a mean of log2 a below 0 means
# the boxes are too large. See `sesiam_lib.evaluation.scale_following`.

# %%
from sesiam_lib.evaluation import scale_following

following_rows = {}
for dataset in results:
    sequences = load_benchmark(dataset, data_paths, dataset_roots.get(dataset), limit_sequences=limit_sequences,
                               limit_frames=limit_frames)
    following = scale_following(paths.tracking_results(dataset), sequences, trackers=list(results[dataset]))
    display(plots.plot_apparent_scales(following, out_dir / f"apparent_scales_{dataset}.png",
                                       title=f"Apparent target scale in the search crop, {dataset}"))
    for name, f in following.items():
        following_rows[f"{dataset} {name}"] = {"frames outside x1.4": f["frac_outside"], "mean log2 a": f["mean_log2"],
                                                "median abs log2 a": f["median_abs_log2"]}
if following_rows:
    write_tables(following_rows, out_dir / "scale_following", bold_best=False)
    display(Markdown((out_dir / "scale_following.md").read_text()))

# %% [markdown]
# ## VOT (EAO) when VOT results exist

# %%
import numpy as np

for dataset in datasets:
    if dataset not in VOT:
        continue
    sequences = load_benchmark(dataset, data_paths, dataset_roots.get(dataset), limit_sequences=limit_sequences,
                               limit_frames=limit_frames)
    eao = evaluate_vot_trackers(paths.tracking_results(dataset), sequences, dataset,
                                eao_range=dry_run_eao_range(dataset, limit_frames), overlap=vot_overlap)
    display(plots.plot_eao_curves(eao, out_dir / f"eao_curves_{dataset}.png", title=f"EAO curves, {dataset}"))
    display(plots.plot_eao_ranking(eao, out_dir / f"eao_ranking_{dataset}.png", title=f"EAO, {dataset}"))
    by_base = {}
    for name, r in eao.items():  # mean ± std over training seeds, as the OTB columns
        by_base.setdefault(split_seed(name)[0], []).append(r["eao"])
    for base, values in by_base.items():
        stats = {"mean": float(np.mean(values)), "std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
                 "n": len(values), "values": values}
        summary.setdefault(dataset, {})[base] = {"eao": stats}
        table.setdefault(display_name(base), {})[f"{dataset} EAO"] = format_mean_std(stats)
    write_tables(table, out_dir / "table")
    atomic_write_json(out_dir / "summary.json", summary)

# %% [markdown]
# ## The paper's table
#
# One row per tracker (`baseline`, `challenger`, then the others), success AUC for the one-pass benchmarks and EAO for
# VOT, mean over training seeds (`paper_table.json` holds the unrounded values).

# %%
metric_of = lambda dataset: ("EAO", "eao") if dataset in VOT else ("AUC", "success_auc")
bases = list(dict.fromkeys([baseline, challenger] + [b for d in datasets for b in summary.get(d, {})]))
paper_table, paper_values = {}, {}
for base in bases:
    for dataset in datasets:
        label, key = metric_of(dataset)
        if base in summary.get(dataset, {}):
            stats = summary[dataset][base][key]
            paper_table.setdefault(display_name(base), {})[f"{dataset} {label}"] = format_mean_std(stats)
            paper_values.setdefault(display_name(base), {})[f"{dataset} {label}"] = stats["mean"]
if paper_table:
    write_tables(paper_table, out_dir / "paper_table", benchmarks=[f"{d} {metric_of(d)[0]}" for d in datasets])
    atomic_write_json(out_dir / "paper_table.json", paper_values)
    display(Markdown((out_dir / "paper_table.md").read_text()))
