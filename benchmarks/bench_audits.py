"""Throughput of the offline audit scorers and the audit table of two generators.

Run: python benchmarks/bench_audits.py [--data ../shared/data] [--repeat 3] [--n-boot 1000] [--threads 1] [--no-table]

On the 880 climate messages (gpt4o_climate.csv + llama3.3_climate.csv) it prints messages per second
of each offline scorer (models loaded before timing; the word-embedding cache emptied before each
timed run) and ratios against baselines measured in the same run:
- PBI (vectorised over all messages) vs the same scorer called once per message;
- every scorer vs a bare regex tokenisation pass over the same messages (the floor of any lexicon scorer).
Targets on the 2-core project machine: lexicon-based >= 2,000 messages/s, embedding-based >= 100/s.
``--threads`` sets torch's intra-op threads: on a 2-core machine shared with other jobs, 1 thread avoids
oversubscription and is usually faster for the embedding scorers.
Then the five-audit table (matched-pair mean gap with 95% CI, Welch t / ANOVA) for both files.
"""

from __future__ import annotations

import argparse
import re
import time
import warnings
from pathlib import Path

import pandas as pd

from fairpp_hf.grid import read_generations

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    """Measure and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--no-table", action="store_true", help="skip the audit table")
    args = parser.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch threads: {torch.get_num_threads()}")
    warnings.simplefilter("ignore")

    files = [args.data / "gpt4o_climate.csv", args.data / "llama3.3_climate.csv"]
    tables = [read_generations(f) for f in files]
    table = pd.concat(tables, ignore_index=True)
    texts = table["text"].tolist()
    n = len(texts)
    lexicon = args.data / "agency_power.csv"
    print(f"{n} messages from {', '.join(f.name for f in files)}\n")

    token = re.compile(r"[a-z]+")
    base = _best(lambda: [token.findall(t.lower()) for t in texts], args.repeat)

    from fairpp_hf.audits import lexical
    from fairpp_hf.audits.persuasion import PersuasionScorer

    rows = []
    pbi = PersuasionScorer(lexicon)
    t_vec = _best(lambda: pbi.score(texts), args.repeat)
    t_loop = _best(lambda: [pbi.score([t]) for t in texts], 1)
    rows.append(("persuasion_bias (PBI)", "lexicon", t_vec, f"{t_loop / t_vec:.0f}x faster than one call per message"))

    try:
        from fairpp_hf.audits.formality import formality_scores

        rows.append(("formality (offline)", "lexicon", _best(lambda: formality_scores(texts, backend="offline"),
                                                             args.repeat), ""))
    except ImportError as exc:
        print(f"formality scorer unavailable: {exc}")
    try:
        from fairpp_hf.audits.emotion import emotion_distributions

        rows.append(("emotional_framing (offline)", "lexicon",
                     _best(lambda: emotion_distributions(texts, backend="offline"), args.repeat), ""))
    except ImportError as exc:
        print(f"emotion scorer unavailable: {exc}")

    t0 = time.perf_counter()
    lex = lexical.LexicalScorer()
    load = time.perf_counter() - t0

    def lexical_cold():
        lexical._EMBED_CACHE.clear()
        lex.score(texts)

    rows.append(("lexical_association (MiniLM)", "embedding", _best(lexical_cold, args.repeat),
                 f"model load {load:.1f} s, not timed; word cache emptied each run"))
    try:
        from fairpp_hf.audits.fidelity import fidelity_scores

        fidelity_scores(texts[:4], table.iloc[:4], backend="offline")  # loads the embedding model
        rows.append(("personalization_fidelity (offline)", "embedding",
                     _best(lambda: fidelity_scores(texts, table, backend="offline"), 1), "model loaded before timing"))
    except ImportError as exc:
        print(f"fidelity scorer unavailable: {exc}")

    print(f"baseline: regex tokenisation only: {n / base:,.0f} messages/s\n")
    print(f"{'scorer':36s} {'kind':10s} {'msg/s':>10s} {'vs tokenise':>12s} {'target':>8s}  note")
    for name, kind, seconds, note in rows:
        target = 2000 if kind == "lexicon" else 100
        ok = "ok" if n / seconds >= target else "MISS"
        print(f"{name:36s} {kind:10s} {n / seconds:10,.0f} {base / seconds:11.3f}x {target:>6d} {ok:>3s}  {note}")

    if args.no_table:
        return
    from fairpp_hf.commands.audit import AUDITS, format_table, summary_rows

    print("\nAudit table (offline scorers):")
    parsed = argparse.Namespace(lexicon=str(lexicon), embedding_model=None, backend="offline", formality_model=None,
                                emotion_model=None, nli_model=None, n_boot=args.n_boot, seed=0)
    from fairpp_hf.commands.audit import _audit_kwargs

    reports: dict = {}
    for f, tab in zip(files, tables, strict=True):
        reports[f.stem] = {}
        for audit, (module, func) in AUDITS.items():
            try:
                mod = __import__(f"fairpp_hf.audits.{module}", fromlist=[func])
            except ImportError as exc:
                reports[f.stem][audit] = {"error": str(exc)}
                continue
            reports[f.stem][audit] = getattr(mod, func)(tab["text"].tolist(), tab.drop(columns=["text"]),
                                                        **_audit_kwargs(audit, parsed))
    print(format_table(summary_rows(reports)))


if __name__ == "__main__":
    main()
