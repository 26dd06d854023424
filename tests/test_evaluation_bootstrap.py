"""Paired two-way bootstrap (seeds x sequences) of challenger − baseline, and the v2 comparison table."""

from __future__ import annotations

import time

import numpy as np
import pytest

from sesiam_lib.core.sequence import Sequence
from sesiam_lib.evaluation import (compare_paired, evaluate_otb, paired_bootstrap, paired_bootstrap_by_bin,
                                   scale_change_bins, write_otb_result, write_paired_comparison)


def grid(seed=1, shape=(5, 40)):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.3, 0.7, shape)


def test_deterministic_and_fast():
    c, b = grid(1), grid(2)
    start = time.perf_counter()
    first = paired_bootstrap(c, b, seed=3)
    assert time.perf_counter() - start < 1.0  # 10k resamples of 5 x 40
    assert paired_bootstrap(c, b, seed=3) == first
    assert paired_bootstrap(c, b, seed=4) != first
    assert first.mean == pytest.approx(float((c - b).mean()))
    assert first.low < first.mean < first.high
    assert (first.n_seeds, first.n_sequences, first.n_resamples, first.seed) == (5, 40, 10000, 3)
    assert first.to_dict()["confidence"] == 0.95
    wider = paired_bootstrap(c, b, seed=3, confidence=0.99)
    assert wider.low < first.low and wider.high > first.high


def test_identical_inputs_and_constant_shift():
    c = grid(1)
    same = paired_bootstrap(c, c)
    assert (same.mean, same.low, same.high) == (0.0, 0.0, 0.0)
    shifted = paired_bootstrap(c + 0.025, c, n_resamples=2000)
    for v in (shifted.mean, shifted.low, shifted.high):
        assert v == pytest.approx(0.025, abs=1e-12)


def test_coverage_on_simulated_experiments():
    """200 simulated v2-like experiments with a known mean difference: the 95 % interval covers it about as
    often as it says (seed effects, sequence effects and noise; 1000 resamples each to stay fast)."""
    mu, hits = 0.03, 0
    for e in range(200):
        g = np.random.default_rng(100 + e)
        d = mu + g.normal(0, 0.01, (5, 1)) + g.normal(0, 0.05, (1, 40)) + g.normal(0, 0.02, (5, 40))
        base = g.uniform(0.3, 0.7, (5, 40))
        r = paired_bootstrap(base + d, base, n_resamples=1000, seed=e)
        hits += r.low <= mu <= r.high
    assert 0.85 <= hits / 200 <= 0.99


def test_one_seed_is_the_sequence_bootstrap():
    c, b = grid(1, (1, 30)), grid(2, (1, 30))
    one = paired_bootstrap(c, b, n_resamples=500, seed=7)
    assert one == paired_bootstrap(c[0], b[0], n_resamples=500, seed=7)  # 1-D = one seed
    # copies of the same seed do not change it: the sequence draws do not depend on the number of seeds
    copies = paired_bootstrap(np.repeat(c, 4, 0), np.repeat(b, 4, 0), n_resamples=500, seed=7)
    assert copies.low == pytest.approx(one.low, abs=1e-12) and copies.high == pytest.approx(one.high, abs=1e-12)
    # and it is the plain sequence bootstrap, written out
    d = (c - b)[0]
    rng = np.random.default_rng(np.random.SeedSequence(7).spawn(2)[1])
    idx = rng.integers(0, 30, size=(500, 30))
    means = d[idx].mean(1)
    np.testing.assert_allclose([one.low, one.high], np.quantile(means, [0.025, 0.975]), atol=1e-12)


def test_bad_inputs():
    c = grid(1)
    with pytest.raises(ValueError, match="one shape"):
        paired_bootstrap(c, c[:, :10])
    with pytest.raises(ValueError, match="2-D"):
        paired_bootstrap(np.zeros((2, 3, 4)), np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="challenger"):
        paired_bootstrap(np.zeros((0, 3)), np.zeros((0, 3)))
    bad = c.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        paired_bootstrap(bad, c)
    with pytest.raises(ValueError, match="n_resamples"):
        paired_bootstrap(c, c, n_resamples=0)
    with pytest.raises(ValueError, match="confidence"):
        paired_bootstrap(c, c, confidence=95)
    with pytest.raises(ValueError, match="labels"):
        paired_bootstrap_by_bin(c, c, ["a"] * 3)


def test_by_bin_uses_the_bins_columns():
    c, b = grid(1, (3, 6)), grid(2, (3, 6))
    bins = ["x", "y", "x", None, "y", "x"]
    out = paired_bootstrap_by_bin(c, b, bins, n_resamples=300)
    assert list(out) == ["x", "y"]
    assert out["x"] == paired_bootstrap(c[:, [0, 2, 5]], b[:, [0, 2, 5]], n_resamples=300)
    assert out["y"].n_sequences == 2


# --------------------------------------------------------------------------------------------------------------
# compare_paired on fake result folders


def fake_benchmark(tmp_path, seeds=(0, 1, 2), challenger_seeds=None):
    """Six sequences in three scale-change bins; challenger boxes are off by 2 px, baseline boxes by 6 px
    (plus a seed-dependent 1 px), so the challenger is better everywhere."""
    scale = [1.2, 1.3, 1.7, 1.8, 2.5, 4.0]
    seqs = [Sequence(f"q{i}", ["f"] * 8, np.tile([10.0, 10, 20, 20], (8, 1)) + [i, 0, 0, 0],
                     attributes={"scale_change": s}) for i, s in enumerate(scale)]
    out = tmp_path / "tracking"
    for base, shift in (("siamfc_tiny", 6.0), ("se_siamfc_tiny", 2.0)):
        for seed in (challenger_seeds if base == "se_siamfc_tiny" and challenger_seeds else seeds):
            for k, s in enumerate(seqs):
                pred = s.boxes + [shift + seed + 0.5 * k, 0, 0, 0]
                write_otb_result(out / f"{base}_s{seed}" / f"{s.name}.txt", pred)
    write_otb_result(out / "other_s0" / "q0.txt", seqs[0].boxes)  # another tracker: ignored
    return out, seqs


def test_compare_paired_from_a_results_folder(tmp_path):
    out, seqs = fake_benchmark(tmp_path)
    assert scale_change_bins(seqs) == ["scale_change[1,1.5)"] * 2 + ["scale_change[1.5,2)"] * 2 + \
        ["scale_change[2,3)", "scale_change[3,inf)"]
    rows = compare_paired(out, "siamfc_tiny", "se_siamfc_tiny", sequences=seqs, dataset="S-MNIST",
                          n_resamples=500)
    assert [r["scope"] for r in rows] == ["all", "scale_change[1,1.5)", "scale_change[1.5,2)",
                                          "scale_change[2,3)", "scale_change[3,inf)"]
    overall = rows[0]
    assert overall["n_seeds"] == 3 and overall["seeds"] == "0 1 2" and overall["n_sequences"] == 6
    results = evaluate_otb(out, seqs, [f"{b}_s{s}" for b in ("siamfc_tiny", "se_siamfc_tiny") for s in range(3)])
    base_aucs = [results[f"siamfc_tiny_s{s}"].success_auc for s in range(3)]
    chall_aucs = [results[f"se_siamfc_tiny_s{s}"].success_auc for s in range(3)]
    assert overall["baseline_mean"] == pytest.approx(np.mean(base_aucs))
    assert overall["baseline_std"] == pytest.approx(np.std(base_aucs, ddof=1))
    assert overall["diff"] == pytest.approx(np.mean(chall_aucs) - np.mean(base_aucs))
    assert 0 < overall["low"] <= overall["diff"] <= overall["high"]
    assert rows[1]["n_sequences"] == 2 and rows[4]["n_sequences"] == 1
    # the same from evaluated results (no sequences: overall only)
    again = compare_paired(results, "siamfc_tiny", "se_siamfc_tiny", n_resamples=500)
    assert len(again) == 1 and again[0]["diff"] == pytest.approx(overall["diff"])
    assert again[0]["low"] == pytest.approx(overall["low"])

    paths = write_paired_comparison(rows, tmp_path / "bench" / "paired_S-MNIST")
    md = paths["md"].read_text()
    assert "SE-SiamFC tiny − SiamFC+ tiny" in md and "95 % interval" in md and "**" not in md
    csv_lines = paths["csv"].read_text().splitlines()
    assert csv_lines[0].startswith("dataset,baseline,challenger,metric,scope") and len(csv_lines) == 6
    assert not [p for p in (tmp_path / "bench").iterdir() if p.name.startswith(".")]  # atomic: no temp files


def test_compare_paired_pairs_common_seeds_and_says_what_is_missing(tmp_path):
    out, seqs = fake_benchmark(tmp_path, seeds=(0, 1, 2), challenger_seeds=(1, 2, 5))
    rows = compare_paired(out, "siamfc_tiny", "se_siamfc_tiny", sequences=seqs, n_resamples=200)
    assert rows[0]["seeds"] == "1 2" and rows[0]["n_seeds"] == 2
    with pytest.raises(KeyError, match="nothing_s<seed>"):
        compare_paired(out, "nothing", "se_siamfc_tiny", sequences=seqs)
    with pytest.raises(ValueError, match="sequences"):
        compare_paired(out, "siamfc_tiny", "se_siamfc_tiny")
    out2, seqs2 = fake_benchmark(tmp_path / "b", seeds=(0,), challenger_seeds=(3,))
    with pytest.raises(ValueError, match="share no seed"):
        compare_paired(out2, "siamfc_tiny", "se_siamfc_tiny", sequences=seqs2)
