"""Plots (Agg, atomic save, legend sorted with scores) and paper-layout tables."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

from sesiam_lib.core.sequence import Sequence  # noqa: E402
from sesiam_lib.evaluation import evaluate_otb_boxes, table_csv, table_latex, table_markdown, write_tables  # noqa: E402
from sesiam_lib.evaluation import plots  # noqa: E402
from sesiam_lib.evaluation.vot import evaluate_vot_trajectories, VotGroundTruth  # noqa: E402


def otb_results():
    seqs = [Sequence(f"s{i}", ["f"] * 5, np.tile([10.0, 10, 20, 20], (5, 1)),
                     attributes={"tags": ["SV"] if i else ["OCC"], "scale_change": 1.2 + i}) for i in range(3)]
    good = {s.name: s.boxes for s in seqs}
    bad = {s.name: s.boxes + [25.0, 0, 0, 0] for s in seqs}
    return {
        "SiamFC+": evaluate_otb_boxes(bad, seqs, "SiamFC+"),
        "SE-SiamFC": evaluate_otb_boxes(good, seqs, "SE-SiamFC"),
    }


def legend_texts(fig):
    return [t.get_text() for t in fig.axes[0].get_legend().get_texts()]


def test_success_precision_plots(tmp_path):
    res = otb_results()
    fig = plots.plot_success(res, tmp_path / "succ.png")
    texts = legend_texts(fig)
    assert texts[0] == f"SE-SiamFC [{res['SE-SiamFC'].success_auc:.3f}]"  # best first
    assert texts[1].startswith("SiamFC+ [")
    assert (tmp_path / "succ.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    fig = plots.plot_precision(res, tmp_path / "prec.pdf")
    assert (tmp_path / "prec.pdf").read_bytes()[:4] == b"%PDF"
    assert legend_texts(fig)[0] == "SE-SiamFC [1.000]"
    plots.plot_norm_precision(res, tmp_path / "nprec.png")
    fig = plots.plot_success(res, attribute="SV")
    assert "SV" in fig.axes[0].get_title()
    fig = plots.plot_attribute_bars(res, tmp_path / "attr.png", show_counts=False)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == sorted(res["SE-SiamFC"].per_attribute)
    fig = plots.plot_attribute_bars(res, metric="precision")
    assert fig.axes[0].get_xticklabels()[0].get_text() == "OCC (1)"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left


def test_eao_plots(tmp_path):
    g = [VotGroundTruth("a", np.tile([0.0, 0, 10, 10], (8, 1)), (50, 50))]
    ok = [[1.0]] + [[0.0, 0.0, 9.0, 10.0]] * 7
    failing = [[1.0], [0, 0, 5.0, 10], [2.0], [0.0], [0.0], [0.0], [0.0], [1.0]]
    res = {"good": evaluate_vot_trajectories({"a": [ok]}, g, None, eao_range=(2, 6)),
           "poor": evaluate_vot_trajectories({"a": [failing]}, g, None, eao_range=(2, 6))}
    fig = plots.plot_eao_curves(res, tmp_path / "eao.png")
    assert legend_texts(fig)[0].startswith("good [")
    fig = plots.plot_eao_ranking(res, tmp_path / "rank.pdf")
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["good", "poor"]
    assert (tmp_path / "eao.png").exists() and (tmp_path / "rank.pdf").exists()
    plots.plot_eao_ranking({"x": 0.3, "y": 0.36})


DATA = {
    "SiamFC+": {"OTB-2013": 0.67, "OTB-2015": 0.64, "VOT2016": 0.30, "VOT2017": 0.23},
    "SE-SiamFC": {"OTB-2013": 0.6814, "OTB-2015": 0.6608, "VOT2016": 0.3636},
}


def test_tables_strings():
    csv_text = table_csv(DATA)
    assert csv_text.splitlines() == [
        "Tracker,OTB-2013,OTB-2015,VOT2016,VOT2017",
        "SiamFC+,0.670,0.640,0.300,0.230",
        "SE-SiamFC,0.681,0.661,0.364,-",
    ]
    md = table_markdown(DATA)
    lines = md.splitlines()
    assert lines[0] == "| Tracker | OTB-2013 | OTB-2015 | VOT2016 | VOT2017 |"
    assert lines[1] == "|---|---|---|---|---|"
    assert lines[3] == "| SE-SiamFC | **0.681** | **0.661** | **0.364** | - |"
    assert lines[2] == "| SiamFC+ | 0.670 | 0.640 | 0.300 | **0.230** |"
    tex = table_latex(DATA, caption="Success AUC and EAO", label="tab:main", digits=2)
    assert r"\begin{tabular}{lcccc}" in tex and r"\toprule" in tex and r"\label{tab:main}" in tex
    assert r"SE-SiamFC & \textbf{0.68} & \textbf{0.66} & \textbf{0.36} & -- \\" in tex
    # order and subsets
    assert table_csv(DATA, benchmarks=["VOT2016"], trackers=["SE-SiamFC"]).splitlines() == [
        "Tracker,VOT2016", "SE-SiamFC,0.364"]
    assert "A\\_B" in table_latex({"A_B": {"x": 1.0}})


def test_write_tables(tmp_path):
    out = write_tables(DATA, tmp_path / "tables" / "main")
    assert sorted(p.name for p in out.values()) == ["main.csv", "main.md", "main.tex"]
    assert out["csv"].read_text() == table_csv(DATA)
    assert out["md"].read_text() == table_markdown(DATA)
    assert out["tex"].read_text() == table_latex(DATA)


def test_write_tables_without_bold(tmp_path):
    from sesiam_lib.evaluation import write_tables

    data = {"a": {"x": 0.5}, "b": {"x": 0.25}}
    write_tables(data, tmp_path / "t")
    assert "**0.500**" in (tmp_path / "t.md").read_text()
    write_tables(data, tmp_path / "u", bold_best=False)
    assert "**" not in (tmp_path / "u.md").read_text() and "textbf" not in (tmp_path / "u.tex").read_text()
    write_tables(data, tmp_path / "v", higher_is_better=False)
    assert "**0.250**" in (tmp_path / "v.md").read_text()
