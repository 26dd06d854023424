"""Result tables in the paper's layout: rows = trackers, columns = benchmarks.

Input: a nested dict ``{tracker: {benchmark: value}}`` (e.g. ``{"SE-SiamFC": {"OTB-2013": 0.681, "VOT2016":
0.364}}``); a missing value prints as ``-``. Outputs: CSV, Markdown and LaTeX strings, and
:func:`write_tables` to save all three atomically. The best value of each column can be emphasised (bold in
Markdown/LaTeX).
"""

from __future__ import annotations

import csv
import io
import math
import os
from pathlib import Path
from typing import Any, Mapping, Sequence as _Seq

__all__ = ["table_columns", "table_csv", "table_markdown", "table_latex", "write_tables"]

Table = Mapping[str, Mapping[str, Any]]


def table_columns(data: Table, benchmarks: _Seq[str] | None = None, trackers: _Seq[str] | None = None):
    """The ``(trackers, benchmarks)`` order used by the writers: given, or first-seen order."""
    if trackers is None:
        trackers = list(data)
    if benchmarks is None:
        benchmarks = []
        for t in trackers:
            for b in data.get(t, {}):
                if b not in benchmarks:
                    benchmarks.append(b)
    return list(trackers), list(benchmarks)


def _num(v) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _fmt(v, digits: int) -> str:
    if isinstance(v, int) and not isinstance(v, bool):
        return str(v)  # counts (sequences, seeds, trials) stay integers
    f = _num(v)
    if f is None:
        return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
    return f"{f:.{digits}f}"


def _best(data: Table, trackers, benchmarks, higher_is_better) -> dict[str, float | None]:
    best = {}
    for b in benchmarks:
        vals = [_num(data.get(t, {}).get(b)) for t in trackers]
        vals = [v for v in vals if v is not None]
        hib = higher_is_better.get(b, True) if isinstance(higher_is_better, Mapping) else higher_is_better
        best[b] = (max(vals) if hib else min(vals)) if vals else None
    return best


def table_csv(data: Table, benchmarks: _Seq[str] | None = None, trackers: _Seq[str] | None = None,
              digits: int = 3, corner: str = "Tracker") -> str:
    """CSV text: header ``Tracker,<benchmarks...>``, one row per tracker."""
    trackers, benchmarks = table_columns(data, benchmarks, trackers)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([corner, *benchmarks])
    for t in trackers:
        w.writerow([t, *[_fmt(data.get(t, {}).get(b), digits) for b in benchmarks]])
    return buf.getvalue()


def table_markdown(data: Table, benchmarks: _Seq[str] | None = None, trackers: _Seq[str] | None = None,
                   digits: int = 3, bold_best: bool = True, higher_is_better: bool | Mapping[str, bool] = True,
                   corner: str = "Tracker") -> str:
    """GitHub Markdown table; the best value per column in bold when ``bold_best``."""
    trackers, benchmarks = table_columns(data, benchmarks, trackers)
    best = _best(data, trackers, benchmarks, higher_is_better) if bold_best else {}
    lines = ["| " + " | ".join([corner, *benchmarks]) + " |", "|" + "---|" * (len(benchmarks) + 1)]
    for t in trackers:
        cells = []
        for b in benchmarks:
            v = data.get(t, {}).get(b)
            s = _fmt(v, digits)
            if bold_best and best.get(b) is not None and _num(v) == best[b]:
                s = f"**{s}**"
            cells.append(s)
        lines.append("| " + " | ".join([t.replace("|", "\\|"), *cells]) + " |")
    return "\n".join(lines) + "\n"


_LATEX_ESC = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
              "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def _tex(s: str) -> str:
    return "".join(_LATEX_ESC.get(c, c) for c in str(s))


def table_latex(data: Table, benchmarks: _Seq[str] | None = None, trackers: _Seq[str] | None = None,
                digits: int = 3, bold_best: bool = True, higher_is_better: bool | Mapping[str, bool] = True,
                caption: str | None = None, label: str | None = None, corner: str = "Tracker") -> str:
    """LaTeX ``tabular`` (booktabs rules) wrapped in a ``table`` environment when ``caption``/``label`` given."""
    trackers, benchmarks = table_columns(data, benchmarks, trackers)
    best = _best(data, trackers, benchmarks, higher_is_better) if bold_best else {}
    rows = [r"\begin{tabular}{l" + "c" * len(benchmarks) + "}", r"\toprule",
            " & ".join([_tex(corner), *[_tex(b) for b in benchmarks]]) + r" \\", r"\midrule"]
    for t in trackers:
        cells = []
        for b in benchmarks:
            v = data.get(t, {}).get(b)
            s = _fmt(v, digits)
            s = "--" if s == "-" else _tex(s)
            if bold_best and best.get(b) is not None and _num(v) == best[b]:
                s = r"\textbf{" + s + "}"
            cells.append(s)
        rows.append(" & ".join([_tex(t), *cells]) + r" \\")
    rows += [r"\bottomrule", r"\end{tabular}"]
    body = "\n".join(rows)
    if caption is None and label is None:
        return body + "\n"
    parts = [r"\begin{table}[t]", r"\centering"]
    if caption is not None:
        parts.append(r"\caption{" + _tex(caption) + "}")
    if label is not None:
        parts.append(r"\label{" + label + "}")
    parts += [body, r"\end{table}"]
    return "\n".join(parts) + "\n"


def write_tables(data: Table, path_stem: str | os.PathLike, benchmarks: _Seq[str] | None = None,
                 trackers: _Seq[str] | None = None, digits: int = 3, bold_best: bool = True,
                 higher_is_better: bool | Mapping[str, bool] = True, **latex_kwargs) -> dict[str, Path]:
    """Write ``<stem>.csv``, ``<stem>.md`` and ``<stem>.tex`` atomically; returns ``{"csv"|"md"|"tex": path}``.

    ``bold_best`` / ``higher_is_better``: as in :func:`table_markdown` (``bold_best=False`` for columns that are
    measurements rather than scores)."""
    from ..core.io import atomic_write_text

    stem = Path(path_stem)
    if stem.suffix in (".csv", ".md", ".tex"):
        stem = stem.with_suffix("")
    out = {
        "csv": stem.with_name(stem.name + ".csv"),
        "md": stem.with_name(stem.name + ".md"),
        "tex": stem.with_name(stem.name + ".tex"),
    }
    atomic_write_text(out["csv"], table_csv(data, benchmarks, trackers, digits))
    atomic_write_text(out["md"], table_markdown(data, benchmarks, trackers, digits, bold_best, higher_is_better))
    atomic_write_text(out["tex"], table_latex(data, benchmarks, trackers, digits, bold_best, higher_is_better,
                                              **latex_kwargs))
    return out
