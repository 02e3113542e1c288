"""Throughput of the offline audit scorers (formality, emotion, fidelity) on the 880 climate messages.

Usage:
    python benchmarks/bench_scorers.py [--data-dir ../shared/data] [--repeats 3]

Prints messages per second (best of ``--repeats`` runs, so load from other processes counts least) for
each scorer and, as ratios measured in the same run, each against a baseline: VADER's polarity scores
(a plain lexicon scorer) for the two lexicon-based scorers and a bare ``SentenceTransformer.encode``
of the messages for the embedding-based one. Targets: lexicon-based >= 2,000/s, embedding >= 100/s.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
FILES = ("gpt4o_climate.csv", "llama3.3_climate.csv")


def best_rates(fns: list[Callable[[], object]], n: int, repeats: int) -> list[float]:
    """Messages per second of the fastest of ``repeats`` calls of each function; the functions take turns
    within every repeat, so a scorer and its baseline see the same background load."""
    best = [float("inf")] * len(fns)
    for _ in range(repeats):
        for k, fn in enumerate(fns):
            start = time.perf_counter()
            fn()
            best[k] = min(best[k], time.perf_counter() - start)
    return [n / b for b in best]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    from fairpp_hf.audits.emotion import offline_emotions
    from fairpp_hf.audits.fidelity import _embedder, fidelity_scores
    from fairpp_hf.audits.formality import offline_formality
    from fairpp_hf.grid import read_generations

    tables = [read_generations(args.data_dir / name) for name in FILES]
    table = pd.concat(tables, ignore_index=True)
    texts = table["text"].tolist()
    n = len(texts)
    print(f"{n} messages from {', '.join(FILES)}")

    vader = SentimentIntensityAnalyzer()
    embedder = _embedder(None, None)
    offline_emotions(texts[:8])  # warm the lexicon caches
    fidelity_scores(texts[:8], table.iloc[:8])  # load the model, embed the hypotheses once

    vader_scores = lambda: [vader.polarity_scores(t) for t in texts]  # noqa: E731
    encode = lambda: embedder.encode(texts, batch_size=32, normalize_embeddings=True)  # noqa: E731
    vader_rate, formality_rate, emotion_rate = best_rates(
        [vader_scores, lambda: offline_formality(texts), lambda: offline_emotions(texts)], n, args.repeats
    )
    encode_rate, fidelity_rate = best_rates([encode, lambda: fidelity_scores(texts, table)], n, args.repeats)
    rows = [
        ("formality (lexical register)", formality_rate, 2000, formality_rate / vader_rate, "vader"),
        ("emotion (NRC lexicon + VADER)", emotion_rate, 2000, emotion_rate / vader_rate, "vader"),
        ("fidelity (MiniLM embeddings)", fidelity_rate, 100, fidelity_rate / encode_rate, "encode"),
    ]
    print(f"baselines: vader polarity_scores {vader_rate:,.0f} msg/s; SentenceTransformer.encode {encode_rate:,.1f} msg/s")
    print(f"{'scorer':32s} {'msg/s':>10s} {'target':>8s} {'ratio to baseline':>20s}  ok")
    for name, rate, target, ratio, base_name in rows:
        print(f"{name:32s} {rate:10,.1f} {target:8,d} {ratio:14.2f}x {base_name:6s}  {'yes' if rate >= target else 'NO'}")


if __name__ == "__main__":
    main()
