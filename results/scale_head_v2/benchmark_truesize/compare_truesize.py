"""Issue #18, true size given: the scale-head-trained model (this run) against the v2 pyramids' true-size runs
(synthetic_v2), paired by seed and sequence on the same test split, with the library's paired bootstrap
(`compare_paired`, 10,000 resamples, seed 0, as notebook 04). The two runs' test sequences are the same files (the
v2 baselines' tracked results in this run carry the same content keys as in synthetic_v2).

Run from the repository root after both pipelines: python results/scale_head_v2/benchmark_truesize/compare_truesize.py
"""
from pathlib import Path

from sesiam_lib.data.got10k import load_got10k
from sesiam_lib.evaluation import compare_paired, evaluate_otb, write_paired_comparison

HERE = Path(__file__).resolve().parent
RESULTS = HERE.parents[1]
CHALLENGER = "se_siamfc_tiny-scalehead-truesize"
BASELINES = ["siamfc_tiny-truesize", "se_siamfc_tiny-truesize", "se_siamfc_tiny_sesn-truesize"]

rows = []
for dataset in ["T-MNIST", "S-MNIST"]:
    sequences = load_got10k(RESULTS.parent / "runs" / "scale_head_v2" / "data" / dataset / "test", None)
    names = [f"{b}_s{s}" for b in BASELINES for s in range(5)]
    results = evaluate_otb(RESULTS / "synthetic_v2" / "tracking" / dataset, sequences, names)
    results.update(evaluate_otb(RESULTS / "scale_head_v2" / "tracking" / dataset, sequences,
                                [f"{CHALLENGER}_s{s}" for s in range(5)]))
    for baseline in BASELINES:
        rows += compare_paired(results, baseline, CHALLENGER, sequences=sequences, dataset=dataset)
paths = write_paired_comparison(rows, HERE / "paired_bootstrap_truesize")
print(Path(paths["md"]).read_text())
