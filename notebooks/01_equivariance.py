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
image_size = 192          # photographs resized to this side (FACTS §8)
scale_ratio = 1.4         # ratio between neighbouring scales of the SE layers (whole SE models: their own)
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

# %% [markdown]
# # 01 — Scale equivariance checks
#
# How exactly do SE-SiamFC's scale convolutions commute with rescaling? For an input $x$, a downscale $D$ by the
# ratio between neighbouring scales and a map $\Phi$ with a scale axis, the relative error is
#
# $$\Delta = \frac{\sum_s \lVert D(\Phi(x))_{s+1} - \Phi(D(x))_s \rVert^2}{\sum_s \lVert D(\Phi(x))_{s+1} \rVert^2}$$
#
# (borders cropped, $D$ an antialiased bilinear resize; see `sesiam_lib.sesn.equivariance`). Maps without a scale
# axis (plain CNNs) are compared without the shift. Everything is computed by `sesiam_lib`; this notebook calls it and draws.

# %%
# %matplotlib inline
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
print("images:", tuple(images.shape), "->", out_dir)

# %% [markdown]
# ## The Hermite–Gaussian basis at each scale
# Stem basis (K 9, E 7) and middle basis (K 5, E 3): the small scales have exact zeros outside their inner support.

# %%
if random_layers:
    fig = viz.plot_basis(hermite_basis(9, se_scales(), 7), functions=[0, 1, 7, 8, 16, 24, 48], scales=se_scales(),
                         save=out_dir / "basis_k9_e7.png")
    plt.show()
    fig = viz.plot_basis(hermite_basis(5, se_scales(), 3), functions=range(9), scales=se_scales(),
                         save=out_dir / "basis_k5_e3.png")
    plt.show()

# %% [markdown]
# ## Single and stacked layers, zero vs circular padding, SES vs plain convolution

# %%
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

# %% [markdown]
# Reading the numbers: the stem (9×9 support at every scale) is nearly exact; the 5×5 middle convs are an order of
# magnitude worse because their two small scales have only 3×3 support; the interscale 1×1 (scale_size 2) loses
# equivariance at the last scale, where its second tap falls off the scale axis. With a 20 % border crop the padding
# mode cannot reach the measured part of a single layer; it matters for deep stacks (whole backbones below).

# %% [markdown]
# ## Error against the downscale ratio
#
# The error should be smallest at the layers' own scale ratio (1.4).

# %%
if random_layers:
    curves = {name: error_vs_ratio(build_reference_layer(name, channels, "constant", seed), images, ratios, border)
              for name in ["stem Z2->H K9 E7", "middle Z2->H K5 E3", "plain 7x7 zero-mean"]}
    atomic_write_csv(out_dir / "equivariance_vs_ratio.csv",
                     [{"layer": n, "ratio": r, "error": e} for n, values in curves.items() for r, e in zip(ratios, values)])
    fig = viz.plot_error_vs_ratio(ratios, curves, save=out_dir / "equivariance_vs_ratio.png")
    plt.show()

# %% [markdown]
# ## What the stem sees: responses per scale for an image and its downscaled copy

# %%
if random_layers:
    stem = build_reference_layer("stem Z2->H K9 E7", channels, "constant", seed)
    with torch.no_grad():
        phi_x, phi_dx = stem(images[:1]), stem(downscale(images[:1], scale_ratio))
    fig = viz.plot_scale_responses(phi_x, phi_dx, save=out_dir / "stem_scale_responses.png")
    plt.show()

# %% [markdown]
# ## Whole backbones, per stage: SE-ResNet-22 vs CIResNet-22, and the trained tiny models
#
# At `model_image_size` with a `model_border` crop (FACTS §8: 383 px, 15 %): the full backbones at random initialisation, and the models given in `trained`
# (with each trained architecture at random initialisation for comparison; several seeds are averaged, ± one standard
# deviation). The error of each stage is that of the stack up to it, an SE model's at its own basis ratio (one scale index
# apart: 1.4, or 1.26 for the SESN-style configuration). CIResNet-22 and SiamFC+ tiny have no scale axis,
# so their maps are compared without a shift: for them the number measures how far the features are from simply
# commuting with the downscale.

# %%
from sesiam_lib.models import build_model, checkpoint_model_options, load_checkpoint
from sesiam_lib.pipeline.experiment import RunPaths, display_name
from sesiam_lib.sesn.checks import basis_ratio, measure_backbone_stages, scale_usage, summarize_stage_errors

model_rows, usage_rows = [], []


def measure(group, model, size, crop, **info):
    pictures = natural_images(size) * 255.0
    ratio = basis_ratio(model, scale_ratio)  # an SE model one scale index apart; a plain one at scale_ratio
    rows = measure_backbone_stages(model, pictures, scale_ratio=ratio, border=crop, group=group, **info)
    for row in rows:
        print(f"{group:40s} {row.get('seed', ''):>2} {row['stage']:8s} {row['error']:.4f}  (ratio {ratio:.3f})")
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
    if "checkpoint" in entry:
        checkpoint, group = entry["checkpoint"], entry.get("label", display_name(entry["model"]))
    else:
        checkpoint = paths.checkpoint(entry["dataset"], entry["model"], entry["seed"])
        group = entry.get("label", f"{display_name(entry['model'])} trained on {entry['dataset']}")
    # the build options the training run recorded (e.g. score_adjust) complete the entry's own
    model = build_model(entry["model"].split("-")[0], **checkpoint_model_options(entry.get("model_options", {}),
                                                                                 checkpoint))
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
    atomic_write_text(out_dir / "equivariance_models.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
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
    usage_text = "\n".join(lines)
    atomic_write_text(out_dir / "scale_usage.md", usage_text + "\n")
print(usage_text)

# %% [markdown]
# ## Interactive explorer
# In JupyterLab, change the layer, padding and scale ratio. (Headless runs keep the static figures above.)

# %%
viz.equivariance_explorer(images, channels=16)
