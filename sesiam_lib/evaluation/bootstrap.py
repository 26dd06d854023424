"""Paired bootstrap intervals of a difference between two trackers (challenger − baseline), over seeds and sequences.

The data: per-sequence scores (success AUC by default) of two trackers, each trained with ``S`` seeds and tracked
on the same ``N`` sequences, as arrays ``[S, N]`` **paired** by seed index and sequence (seed ``i`` of both arms,
sequence ``j`` of both). The statistic is the mean over the grid of ``d = challenger − baseline``.

Resampling (:func:`paired_bootstrap`) is two-way: each resample draws ``S`` seed indices with replacement and,
independently, ``N`` sequence indices with replacement, and takes the mean of ``d`` over the resampled
``seed x sequence`` grid. So both the training randomness (which seeds) and the benchmark's randomness (which
sequences) widen the interval. The interval is the percentile interval of the resampled means. With one seed it
is the ordinary sequence bootstrap; the seed draws and the sequence draws come from two independent streams
spawned from ``seed``, so the sequence draws do not depend on ``S`` (one seed gives exactly the interval of any
number of identical copies of it).

Per scale-change bin (:func:`paired_bootstrap_by_bin`): the same on the columns (sequences) of each bin; the bins
are the evaluation's attribute bins (:func:`scale_change_bins`: ``seq.attributes["scale_change"]``, from the
synthetic sets' ``scale_stats.json``, binned with :data:`~sesiam_lib.evaluation.otb.DEFAULT_SCALE_BINS` into
``"scale_change[lo,hi)"``, the names of :attr:`OTBResult.per_attribute`).

:func:`compare_paired` runs it on evaluated trackers named ``<base>_s<seed>`` (overall and per bin, with the mean
± std over seeds of each arm); :func:`paired_table` / :func:`write_paired_comparison` make and save the table.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence as _Seq

import numpy as np

from .otb import DEFAULT_SCALE_BINS, _attribute_names

__all__ = ["BootstrapInterval", "paired_bootstrap", "paired_bootstrap_by_bin", "scale_change_bins",
           "per_sequence_scores", "compare_paired", "paired_table", "write_paired_comparison"]

_CHUNK = 1 << 22  # resamples x max(S, N) cells drawn at once (bounds memory for long benchmarks)


@dataclass(frozen=True)
class BootstrapInterval:
    """What :func:`paired_bootstrap` returns.

    Attributes:
        mean: the observed mean of ``challenger − baseline`` over the ``S x N`` grid.
        low, high: the percentile interval of the resampled means at ``confidence``.
        n_seeds, n_sequences: ``S``, ``N``. n_resamples, seed, confidence: as given.
    """

    mean: float
    low: float
    high: float
    n_seeds: int
    n_sequences: int
    n_resamples: int
    seed: int
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _grid(values, argname: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"{argname}: expected per-sequence scores [seeds, sequences] (2-D, non-empty), "
                         f"got shape {np.shape(values)}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{argname}: scores contain NaN or infinite values")
    return arr


def _counts(rng: np.random.Generator, n_resamples: int, size: int) -> np.ndarray:
    """``[n_resamples, size]`` counts of ``size`` indices drawn with replacement from ``range(size)``."""
    idx = rng.integers(0, size, size=(n_resamples, size))
    flat = idx + (np.arange(n_resamples) * size)[:, None]
    return np.bincount(flat.ravel(), minlength=n_resamples * size).reshape(n_resamples, size).astype(np.float64)


def paired_bootstrap(challenger, baseline, *, n_resamples: int = 10000, seed: int = 0,
                     confidence: float = 0.95) -> BootstrapInterval:
    """Two-way (seeds x sequences) paired bootstrap interval of ``mean(challenger − baseline)``.

    Args:
        challenger, baseline: per-sequence scores ``[S seeds, N sequences]``, paired by seed index and sequence
            (a 1-D array is one seed).
        n_resamples: bootstrap resamples.
        seed: random seed (the result is a deterministic function of the inputs and ``seed``).
        confidence: the percentile interval's level, in (0, 1).

    Returns:
        a :class:`BootstrapInterval`.

    Raises:
        ValueError: shapes that differ or are not 2-D / non-empty, NaN scores, ``n_resamples < 1``,
            ``confidence`` outside (0, 1).
    """
    c = _grid(challenger, "challenger")
    b = _grid(baseline, "baseline")
    if c.shape != b.shape:
        raise ValueError(f"challenger and baseline must be paired [seeds, sequences] arrays of one shape, got "
                         f"{c.shape} and {b.shape}")
    if isinstance(n_resamples, bool) or int(n_resamples) != n_resamples or int(n_resamples) < 1:
        raise ValueError(f"n_resamples: expected an integer >= 1, got {n_resamples!r}")
    if not 0.0 < float(confidence) < 1.0:
        raise ValueError(f"confidence: expected a level in (0, 1), got {confidence!r}")
    n_resamples = int(n_resamples)
    d = c - b
    n_seeds, n_seq = d.shape
    seed_stream, seq_stream = (np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(2))
    means = np.empty(n_resamples)
    step = max(1, _CHUNK // max(n_seeds, n_seq))
    for start in range(0, n_resamples, step):
        k = min(step, n_resamples - start)
        seed_counts = _counts(seed_stream, k, n_seeds)  # [k, S]
        seq_counts = _counts(seq_stream, k, n_seq)  # [k, N]
        means[start:start + k] = np.einsum("ks,sn,kn->k", seed_counts, d, seq_counts,
                                           optimize=True) / (n_seeds * n_seq)
    alpha = (1.0 - float(confidence)) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return BootstrapInterval(mean=float(d.mean()), low=float(low), high=float(high), n_seeds=n_seeds,
                             n_sequences=n_seq, n_resamples=n_resamples, seed=int(seed),
                             confidence=float(confidence))


def paired_bootstrap_by_bin(challenger, baseline, bins: _Seq, **kwargs) -> dict[str, BootstrapInterval]:
    """:func:`paired_bootstrap` on the sequences of each bin: ``bins`` holds one label per sequence (column),
    ``None`` for a sequence in no bin. Returns ``{label: BootstrapInterval}`` in sorted label order."""
    c = _grid(challenger, "challenger")
    b = _grid(baseline, "baseline")
    labels = list(bins)
    if len(labels) != c.shape[1]:
        raise ValueError(f"bins: {len(labels)} labels for {c.shape[1]} sequences")
    out = {}
    for label in sorted({lab for lab in labels if lab is not None}):
        cols = np.array([lab == label for lab in labels])
        out[label] = paired_bootstrap(c[:, cols], b[:, cols], **kwargs)
    return out


def scale_change_bins(sequences: Iterable, scale_bins: _Seq[float] = DEFAULT_SCALE_BINS) -> list[str | None]:
    """The scale-change bin (``"scale_change[lo,hi)"``, as :attr:`OTBResult.per_attribute` names it) of each
    sequence, from ``seq.attributes["scale_change"]``; ``None`` for a sequence without one."""
    out = []
    for seq in sequences:
        names = [n for n in _attribute_names(seq, scale_bins) if n.startswith("scale_change[")]
        out.append(names[0] if names else None)
    return out


def per_sequence_scores(results: Mapping[str, Any], base: str, metric: str = "success_auc",
                        sequences: _Seq[str] | None = None) -> tuple[list[int], list[str], np.ndarray]:
    """``(seeds, sequence names, scores [S, N])`` of the trackers ``<base>_s<seed>`` in ``results``
    (``{tracker: OTBResult}``), seeds sorted; columns in the order of ``sequences`` (default: the first seed's).

    Raises:
        KeyError: no ``<base>_s<seed>`` tracker, or a sequence missing from one of them (named).
    """
    from .aggregate import split_seed

    members = sorted((s, name) for name in results for b, s in [split_seed(name)] if b == base and s is not None)
    if not members:
        raise KeyError(f"no tracker {base}_s<seed> among {sorted(results)}")
    names = list(sequences) if sequences is not None else list(results[members[0][1]].per_sequence)
    grid = np.empty((len(members), len(names)))
    for i, (_, tracker) in enumerate(members):
        per_seq = results[tracker].per_sequence
        for j, seq in enumerate(names):
            if seq not in per_seq:
                raise KeyError(f"tracker {tracker} has no result for sequence {seq!r}")
            grid[i, j] = getattr(per_seq[seq], metric)
    return [s for s, _ in members], names, grid


def _mean_std(grid: np.ndarray) -> dict[str, float]:
    per_seed = grid.mean(axis=1)
    return {"mean": float(per_seed.mean()), "std": float(per_seed.std(ddof=1)) if len(per_seed) > 1 else 0.0,
            "n": int(len(per_seed))}


def compare_paired(results, baseline: str, challenger: str, *, sequences: Iterable | None = None,
                   dataset: str | None = None, metric: str = "success_auc", n_resamples: int = 10000,
                   seed: int = 0, confidence: float = 0.95,
                   scale_bins: _Seq[float] = DEFAULT_SCALE_BINS) -> list[dict[str, Any]]:
    """Paired comparison of two trained models: mean ± std over seeds of each, and the bootstrap interval of
    ``challenger − baseline``, overall and per scale-change bin.

    Args:
        results: ``{tracker: OTBResult}`` (from :func:`~sesiam_lib.evaluation.evaluate_otb`) or a results folder
            (then ``sequences`` is required and the ``<base>_s<seed>`` folders of both arms are evaluated).
        baseline, challenger: base names; their trackers are ``<base>_s<seed>``, paired by seed number (only the
            seeds both have are used; the rows say which).
        sequences: the evaluated sequences: the bins come from their ``attributes["scale_change"]`` (without
            them: overall only).
        dataset: a label copied into every row.
        metric: a per-sequence :class:`~sesiam_lib.evaluation.otb.CurveScores` attribute.
        n_resamples, seed, confidence: of :func:`paired_bootstrap` (the same ``seed`` for every row).

    Returns:
        rows (overall first, then the bins in order): ``dataset, baseline, challenger, metric, scope ("all" or the
        bin), n_seeds, seeds, n_sequences, baseline_mean, baseline_std, challenger_mean, challenger_std, diff,
        low, high, confidence, n_resamples, seed``; ``*_mean`` / ``*_std``: over seeds of each seed's mean over
        the scope's sequences.

    Raises:
        KeyError: an arm without trackers, or a sequence missing. ValueError: the arms share no seed.
    """
    seqs = None if sequences is None else list(sequences)
    if isinstance(results, (str, os.PathLike)):
        if seqs is None:
            raise ValueError("compare_paired: a results folder needs the sequences to evaluate")
        from .aggregate import split_seed
        from .otb import evaluate_otb

        folder = Path(results)
        names = sorted(p.name for p in folder.iterdir() if p.is_dir() and split_seed(p.name)[0] in
                       (baseline, challenger) and split_seed(p.name)[1] is not None) if folder.is_dir() else []
        if not names:
            raise KeyError(f"compare_paired: no {baseline}_s<seed> or {challenger}_s<seed> folder in {folder}")
        results = evaluate_otb(folder, seqs, names)
    seq_names = None if seqs is None else [s.name for s in seqs]
    b_seeds, seq_names, b_grid = per_sequence_scores(results, baseline, metric, seq_names)
    c_seeds, _, c_grid = per_sequence_scores(results, challenger, metric, seq_names)
    common = sorted(set(b_seeds) & set(c_seeds))
    if not common:
        raise ValueError(f"compare_paired: {baseline} (seeds {b_seeds}) and {challenger} (seeds {c_seeds}) share "
                         "no seed to pair")
    b_grid = b_grid[[b_seeds.index(s) for s in common]]
    c_grid = c_grid[[c_seeds.index(s) for s in common]]
    bins = scale_change_bins(seqs, scale_bins) if seqs is not None else [None] * len(seq_names)
    scopes = [("all", np.ones(len(seq_names), bool))]
    scopes += [(label, np.array([b == label for b in bins])) for label in sorted({b for b in bins if b})]
    rows = []
    for scope, cols in scopes:
        ci = paired_bootstrap(c_grid[:, cols], b_grid[:, cols], n_resamples=n_resamples, seed=seed,
                              confidence=confidence)
        bs, cs = _mean_std(b_grid[:, cols]), _mean_std(c_grid[:, cols])
        rows.append({"dataset": dataset, "baseline": baseline, "challenger": challenger, "metric": metric,
                     "scope": scope, "n_seeds": len(common), "seeds": " ".join(map(str, common)),
                     "n_sequences": int(cols.sum()), "baseline_mean": bs["mean"], "baseline_std": bs["std"],
                     "challenger_mean": cs["mean"], "challenger_std": cs["std"], "diff": ci.mean,
                     "low": ci.low, "high": ci.high, "confidence": ci.confidence, "n_resamples": ci.n_resamples,
                     "seed": ci.seed})
    return rows


def paired_table(rows: Iterable[Mapping[str, Any]], digits: int = 3) -> dict[str, dict[str, str]]:
    """``{row label: {column: text}}`` for :func:`~sesiam_lib.evaluation.write_tables`: one row per
    ``(dataset, pair, scope)``, columns baseline / challenger (mean ± std over seeds), difference and its
    interval."""
    from ..pipeline.experiment import display_name

    def ms(mean, std, n):
        return f"{mean:.{digits}f} ± {std:.{digits}f}" if n > 1 else f"{mean:.{digits}f}"

    table = {}
    for r in rows:
        label = " ".join(str(x) for x in (r.get("dataset"), f"{display_name(r['challenger'])} − "
                                          f"{display_name(r['baseline'])}", r["scope"]) if x)
        pct = f"{100 * r['confidence']:g} %"
        table[label] = {"sequences": int(r["n_sequences"]), "seeds": int(r["n_seeds"]),
                        "baseline": ms(r["baseline_mean"], r["baseline_std"], r["n_seeds"]),
                        "challenger": ms(r["challenger_mean"], r["challenger_std"], r["n_seeds"]),
                        "difference": f"{r['diff']:+.{digits}f}",
                        f"{pct} interval": f"[{r['low']:+.{digits}f}, {r['high']:+.{digits}f}]"}
    return table


def write_paired_comparison(rows: list[Mapping[str, Any]], path_stem: str | os.PathLike,
                            digits: int = 3) -> dict[str, Path]:
    """Save the comparison atomically: ``<stem>.md`` / ``<stem>.tex`` (:func:`paired_table` through
    :func:`~sesiam_lib.evaluation.write_tables`, no bold) and ``<stem>.csv`` with the rows' unrounded numbers
    (6 decimals). Returns the paths by kind."""
    from .otb import write_rows_csv
    from .tables import write_tables

    stem = Path(path_stem)
    out = write_tables(paired_table(rows, digits), stem, bold_best=False)
    write_rows_csv(out["csv"], list(rows), digits=6)
    return out
