"""Benchmark of the Fair-PP data layer at full size (34,089 SYNTHETIC questions x 7 personas).

Run: python benchmarks/bench_data.py [--n-questions 34089] [--repeat 3]

Prints wall-clock figures and ratios against baselines measured in the same run:
- Eq. 1 weights for one persona (vectorized) vs a per-question Python loop;
- ``pairs`` prepare with ``FairPP`` (ArrowBasedBuilder, Arrow batches) vs the same builder logic on a
  ``GeneratorBasedBuilder`` that yields one example dict at a time;
- cached reload (a new builder on the same inputs: fingerprint, cache hit, memory-mapped Arrow);
- export of 2 personas x 2 formats to a Hub-ready folder.
Targets on the project machine: weights <= 0.5 s, pairs prepare <= 60 s, cached reload <= 2 s.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import datasets
import numpy as np

from fairpp_hf.builder import FairPP, FairPPBase
from fairpp_hf.data import answer_matrix, arrow_table, load_records
from fairpp_hf.export import export_dataset
from fairpp_hf.synthetic import synthetic_frame
from fairpp_hf.weighting import persona_weights


class FairPPExamples(FairPPBase, datasets.GeneratorBasedBuilder):
    """Baseline: the same configs through datasets' per-example path (``_generate_examples``)."""

    def _generate_examples(self, split):
        yield from enumerate(arrow_table(self._views[split]).to_pylist())


def loop_weights(answers: np.ndarray, persona: int) -> np.ndarray:
    """Baseline Eq. 1: one Python iteration per question."""
    t = persona - 1
    tiers = [1 + sum(int(a != row[t]) for a in row) for row in answers.tolist()]
    counts = {j: tiers.count(j) for j in set(tiers)}
    total = sum(j / n for j, n in counts.items())
    return np.array([(j / counts[j]) / total for j in tiers])


def timed(fn, repeat: int = 1) -> tuple[float, object]:
    """Best wall-clock time of ``repeat`` calls and the last result."""
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-questions", type=int, default=34_089)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    datasets.disable_progress_bars()
    n = args.n_questions
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        csv = tmp_path / "fairpp_synthetic.csv"
        synthetic_frame(n, seed=0).to_csv(csv, index=False)
        print(f"SYNTHETIC data: {n} questions x 7 personas, CSV {csv.stat().st_size / 1e6:.1f} MB")

        t_load, records = timed(lambda: load_records(csv))
        print(f"load_records (CSV -> canonical records):     {t_load:8.3f} s")

        answers = answer_matrix(records)
        t_w, (_, w) = timed(lambda: persona_weights(answers, 6), args.repeat)
        t_wl, wl = timed(lambda: loop_weights(answers, 6))
        assert np.allclose(w, wl), "vectorized and loop weights disagree"
        print(f"weights, persona 6 (vectorized):             {t_w:8.4f} s   (target <= 0.5 s)")
        print(f"weights, persona 6 (Python loop baseline):   {t_wl:8.4f} s   ratio loop/vectorized = {t_wl / t_w:.0f}x")

        def prepare(cls, cache):
            b = cls(config_name="pairs", persona=6, data_files=str(csv), cache_dir=str(cache))
            b.download_and_prepare()
            return b.as_dataset()

        t_gen, ds_gen = timed(lambda: prepare(FairPPExamples, tmp_path / "cache_gen"))
        t_arrow, ds = timed(lambda: prepare(FairPP, tmp_path / "cache_arrow"))
        assert ds["train"].to_pandas().equals(ds_gen["train"].to_pandas()), "builders disagree"
        rows = sum(len(d) for d in ds.values())
        print(f"pairs prepare, FairPP (Arrow batches):       {t_arrow:8.3f} s   ({rows} rows; target <= 60 s)")
        print(f"pairs prepare, GeneratorBasedBuilder base:   {t_gen:8.3f} s   ratio generator/arrow = {t_gen / t_arrow:.1f}x")

        t_reload, again = timed(lambda: prepare(FairPP, tmp_path / "cache_arrow"), args.repeat)
        assert len(again["train"]) == len(ds["train"])
        print(f"pairs cached reload:                         {t_reload:8.3f} s   (target <= 2 s; "
              f"{t_arrow / t_reload:.0f}x faster than prepare)")

        t_stream, n_stream = timed(
            lambda: sum(1 for _ in FairPP(config_name="pairs", persona=6, data_files=str(csv),
                                          cache_dir=str(tmp_path / "c3")).as_streaming_dataset(split="train"))
        )
        print(f"pairs streaming, full pass over train:       {t_stream:8.3f} s   ({n_stream} rows)")

        t_export, res = timed(
            lambda: export_dataset(tmp_path / "export", data_files=str(csv), personas=[1, 6], progress=False)
        )
        print(f"export (records, distributions, pairs+sft x 2 personas x 2 formats): {t_export:.3f} s, "
              f"{len(res.configs)} configs")


if __name__ == "__main__":
    main()
