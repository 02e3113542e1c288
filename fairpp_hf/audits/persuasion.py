"""Persuasion bias index (PBI), per message, as defined in the predecessor code (REFERENCE §3):

    PBI = agency + modality + 0.1 x imperatives

* agency = (high - low) / (high + low) over the verbs of the connotation-frame agency lexicon
  (Sap et al. 2017; ``agency_pos`` = high, ``agency_neg`` = low, ``agency_equal`` counts in neither);
  0 when no high/low verb occurs;
* modality = (certainty - hedging) / (certainty + hedging) over the two word lists below, 0 if none;
* imperatives = number of imperative verbs.

No POS tagger or parser model can be downloaded here, so verbs are recognised with the lemma and
inflection tables that ship inside the ``lemminflect`` package, with two documented rules:

* a token counts as a lexicon verb when one of its dictionary readings is a verb whose lemma is in the
  lexicon (any inflection: "protects", "protected", "protecting"), unless the previous word is a
  determiner or possessive ("our support" is a noun); auxiliaries and modals ("will", "can", "has")
  and the lead words below ("please") are never counted as lexicon verbs; a bare form that can also
  be a noun or adjective ("support", "clean"), or an -s form that is also a plural noun ("fuels",
  "costs"), counts only in a verb context: after a subject pronoun, modal, "to" or "not", before a
  determiner/pronoun/particle/adjective, or as an imperative;
* an imperative is a clause-initial bare verb (first word of a sentence or after ``; : —`` or a line
  break, optionally after "please", "so", "now", "just", "don't", ...), not an auxiliary; a word that
  can also be a noun or adjective ("power", "clean", "secure") counts only when the next word is a
  determiner, pronoun, particle or adjective, ends its clause, or follows "don't"/"never"
  ("Power your future" yes, "Clean energy creates" no).
  Coordinated second verbs ("join us and *make* a difference") are not counted, so the count is a
  lower bound. The original used spaCy's tagger, which is not available offline.

Scoring is vectorised over messages: tokens of all messages are flattened into one array, each distinct
token is looked up once, and per-message counts come from ``numpy.bincount``.
"""

from __future__ import annotations

import logging
import os
import re
import urllib.request
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fairpp_hf.audits.base import check_backend, validate_texts
from fairpp_hf.audits.stats import DEFAULT_VARY, audit_report

logger = logging.getLogger(__name__)

#: Modal words of certainty and of hedging (REFERENCE §3).
CERTAINTY: frozenset[str] = frozenset({"will", "must", "shall", "definitely", "certainly"})
HEDGING: frozenset[str] = frozenset({"might", "may", "could", "can", "perhaps", "possibly"})
#: Weight of each imperative verb in the PBI.
IMPERATIVE_WEIGHT = 0.1

#: The public connotation-frame lexicon (Sap et al. 2017), pinned to one commit of its repository.
AGENCY_LEXICON_URL = (
    "https://raw.githubusercontent.com/maartensap/riveter-nlp/4be076f066815f747c6a2b140c1c779b04518342/"
    "data/sap-lexicon/agency_power.csv"
)
AGENCY_LABELS: dict[str, int] = {"agency_pos": 1, "agency_neg": -1, "agency_equal": 0}

#: Words before which a verb-looking token is read as a noun ("our support").
DETERMINERS: frozenset[str] = frozenset({
    "the", "a", "an", "this", "that", "these", "those", "our", "your", "their", "my", "his", "her", "its",
    "every", "each", "no", "some", "any", "more", "less", "much", "many", "such", "of", "to_be",
})
#: Auxiliaries and modals: never imperatives, and after an ambiguous first word they mark a subject.
AUXILIARIES: frozenset[str] = frozenset({
    "be", "is", "are", "was", "were", "am", "been", "being", "do", "does", "did", "have", "has", "had",
    "will", "would", "shall", "should", "can", "could", "may", "might", "must",
})
#: Words that may precede a clause-initial imperative ("Please join", "Don't wait", "Together, act").
IMPERATIVE_LEADS: frozenset[str] = frozenset({
    "please", "so", "now", "just", "then", "today", "together", "simply", "don't", "dont", "never", "always",
    "and", "but", "also", "thus", "therefore", "finally", "first", "next",
})
#: After an ambiguous first word, these mark it as a verb taking an object ("Power your future").
OBJECT_STARTERS: frozenset[str] = DETERMINERS | frozenset({
    "us", "me", "him", "them", "it", "you", "yourself", "ourselves", "up", "out", "in", "on", "for", "to",
    "with", "into", "forward", "now", "today", "together", "back", "down", "what", "how", "change", "action",
}) - {"of", "to_be"}
#: Words after which an ambiguous bare form is read as a verb ("we support", "to power", "can help").
VERB_CONTEXT: frozenset[str] = frozenset({
    "i", "we", "you", "they", "who", "to", "not", "don't", "dont", "never", "let's", "lets", "us",
}) | AUXILIARIES
#: Bare forms read as imperatives though the lemma tables do not list them as verbs.
EXTRA_IMPERATIVES: frozenset[str] = frozenset({"let's", "lets"})

_TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)*|[.!?;:\n\u2014]+|,")
_BREAK, _COMMA, _WORD = 0, 1, 2


@dataclass
class AgencyLexicon:
    """Verb lemma -> agency polarity (+1 high, -1 low, 0 equal), with counts of what loading skipped."""

    labels: dict[str, int]
    source: str
    n_rows: int = 0
    n_unlabeled: int = 0
    n_unknown_label: int = 0
    n_conflicts: int = 0
    conflicts: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.labels)


def _cache_dir() -> Path:
    root = os.environ.get("FAIRPP_HF_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.join(os.path.expanduser("~"), ".cache")), "fairpp_hf")
    return Path(root)


def download_agency_lexicon(cache_dir: str | Path | None = None, *, url: str = AGENCY_LEXICON_URL) -> Path:
    """Path of the cached public agency lexicon, downloading it once into ``cache_dir`` (default
    ``$FAIRPP_HF_CACHE`` or ``~/.cache/fairpp_hf``)."""
    target = Path(cache_dir) if cache_dir is not None else _cache_dir()
    path = target / "agency_power.csv"
    if path.is_file():
        return path
    target.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    try:
        with urllib.request.urlopen(url, timeout=30) as resp, open(tmp, "wb") as fh:  # noqa: S310 - fixed https URL
            fh.write(resp.read())
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise RuntimeError(f"could not download the agency lexicon from {url} ({exc}); pass lexicon=PATH to a local "
                           f"copy of agency_power.csv") from exc
    tmp.replace(path)
    return path


@cache
def _readings(word: str) -> dict[str, tuple[str, ...]]:
    """Dictionary readings (UPOS -> lemmas) of a lower-case word from lemminflect's tables."""
    import lemminflect

    return dict(lemminflect.getAllLemmas(word))


def _verb_lemma(verb: str) -> str:
    """Lemma of a lexicon verb (given in 3rd person singular, e.g. "abandons")."""
    import lemminflect

    lemmas = lemminflect.getAllLemmas(verb, upos="VERB").get("VERB") or lemminflect.getAllLemmasOOV(verb, upos="VERB").get("VERB")
    return lemmas[0] if lemmas else verb


def load_agency_lexicon(
    path: str | Path | Mapping[str, str] | None = None, *, cache_dir: str | Path | None = None
) -> AgencyLexicon:
    """Read the connotation-frame agency lexicon (``verb,agency,power`` CSV) from ``path`` (or a dict
    verb -> agency label), or from a cached download of the public file when ``path`` is None. Verbs are
    lemmatised; rows without an agency label and lemma conflicts are counted and logged, never dropped
    silently."""
    if isinstance(path, Mapping):
        source: Any = "<dict>"
        frame = pd.DataFrame({"verb": [str(k) for k in path], "agency": [str(v) for v in path.values()]})
    else:
        source = Path(path) if path is not None else download_agency_lexicon(cache_dir)
        if not source.is_file():
            raise FileNotFoundError(f"agency lexicon not found: {source}")
        frame = pd.read_csv(source, dtype=str, keep_default_na=False)
    for col in ("verb", "agency"):
        if col not in frame.columns:
            raise ValueError(f"{source}: the agency lexicon needs columns 'verb' and 'agency'; found {list(frame.columns)}")
    lex = AgencyLexicon(labels={}, source=str(source), n_rows=len(frame))
    verbs = frame["verb"].str.strip().str.lower()
    agency = frame["agency"].str.strip()
    unlabeled = (agency == "") | (verbs == "")
    unknown = ~unlabeled & ~agency.isin(list(AGENCY_LABELS))
    lex.n_unlabeled = int(unlabeled.sum())
    lex.n_unknown_label = int(unknown.sum())
    for verb, label in zip(verbs[~unlabeled & ~unknown], agency[~unlabeled & ~unknown], strict=True):
        lemma = _verb_lemma(verb)
        value = AGENCY_LABELS[label]
        if lemma in lex.labels and lex.labels[lemma] != value:
            lex.n_conflicts += 1
            lex.conflicts.append(verb)
            continue  # first entry wins; counted
        lex.labels[lemma] = value
    if lex.n_unlabeled or lex.n_unknown_label or lex.n_conflicts:
        logger.info("agency lexicon %s: %d rows, %d without an agency label, %d with an unknown label, "
                    "%d lemma conflicts (first entry kept); %d verb lemmas", source, lex.n_rows, lex.n_unlabeled,
                    lex.n_unknown_label, lex.n_conflicts, len(lex.labels))
    return lex


def _tokenize(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Lower-cased tokens of all messages flattened into one array, and each token's message index."""
    per_message = [_TOKEN.findall(t.lower().replace("\u2019", "'")) for t in texts]
    lengths = np.fromiter((len(p) for p in per_message), dtype=np.int64, count=len(per_message))
    flat = np.array([tok for p in per_message for tok in p], dtype=object)
    return flat, np.repeat(np.arange(len(texts)), lengths)


class PersuasionScorer:
    """Scores messages with the PBI components; build once (the lexicon is read and lemmatised once)."""

    def __init__(self, lexicon: AgencyLexicon | str | Path | Mapping[str, str] | None = None, *, cache_dir: str | Path | None = None):
        self.lexicon = lexicon if isinstance(lexicon, AgencyLexicon) else load_agency_lexicon(lexicon, cache_dir=cache_dir)

    def _token_table(self, uniques: np.ndarray) -> dict[str, np.ndarray]:
        """Per distinct token: agency polarity, modality, verb/ambiguity flags (one dictionary lookup each)."""
        n = len(uniques)
        agency = np.full(n, np.nan)
        bare_verb = np.zeros(n, dtype=bool)
        ambiguous = np.zeros(n, dtype=bool)
        bare_ambiguous = np.zeros(n, dtype=bool)
        adjective = np.zeros(n, dtype=bool)
        kind = np.full(n, _WORD, dtype=np.int8)
        labels = self.lexicon.labels
        for i, tok in enumerate(uniques):
            if tok == ",":
                kind[i] = _COMMA
                continue
            if not tok[0].isalpha():
                kind[i] = _BREAK
                continue
            readings = _readings(tok)
            verbs = readings.get("VERB", ())
            hits = [labels[v] for v in verbs if v in labels]
            if hits and tok not in AUXILIARIES and tok not in IMPERATIVE_LEADS:
                agency[i] = hits[0]
            other = any(k in readings for k in ("NOUN", "ADJ", "PROPN"))
            plural_homograph = tok.endswith("s") and tok not in verbs and tok not in readings.get("NOUN", (tok,))
            bare_ambiguous[i] = other and (tok in verbs or plural_homograph)
            if (tok in verbs or tok in EXTRA_IMPERATIVES) and tok not in AUXILIARIES and tok not in IMPERATIVE_LEADS:
                bare_verb[i] = True
                ambiguous[i] = other
            adjective[i] = "ADJ" in readings
        return {"agency": agency, "bare_verb": bare_verb, "ambiguous": ambiguous, "adjective": adjective, "kind": kind,
                "bare_ambiguous": bare_ambiguous}

    def explain(self, text: str) -> pd.DataFrame:
        """Token-level view of one message: which tokens counted as high/low agency verbs, modal words
        and imperatives; for checking a score by hand."""
        frame = self._tokens(validate_texts([text]))
        return frame.drop(columns=["message"])

    def score(self, texts: Sequence[str]) -> pd.DataFrame:
        """Per message: agency, modality, imperatives, pbi, and the counts behind them."""
        texts = validate_texts(texts)
        n = len(texts)
        tok = self._tokens(texts)
        msg = tok["message"].to_numpy()
        pol = tok["agency"].to_numpy()
        high = np.bincount(msg[pol == 1], minlength=n).astype(float)
        low = np.bincount(msg[pol == -1], minlength=n).astype(float)
        equal = np.bincount(msg[pol == 0], minlength=n)
        agency = np.divide(high - low, high + low, out=np.zeros(n), where=(high + low) > 0)
        mod = tok["modality"].to_numpy()
        cert = np.bincount(msg[mod == 1], minlength=n).astype(float)
        hedge = np.bincount(msg[mod == -1], minlength=n).astype(float)
        modality = np.divide(cert - hedge, cert + hedge, out=np.zeros(n), where=(cert + hedge) > 0)
        imperatives = np.bincount(msg[tok["imperative"].to_numpy()], minlength=n)
        return pd.DataFrame({
            "agency": agency, "modality": modality, "imperatives": imperatives,
            "pbi": agency + modality + IMPERATIVE_WEIGHT * imperatives,
            "agency_high": high.astype(int), "agency_low": low.astype(int), "agency_equal": equal,
            "certainty": cert.astype(int), "hedging": hedge.astype(int),
        })

    def _tokens(self, texts: list[str]) -> pd.DataFrame:
        """One row per token of all messages: message index, token, counted agency polarity (NaN if
        none), modality (+1 certainty, -1 hedging, 0) and whether it is an imperative verb."""
        tokens, msg = _tokenize(texts)
        codes, uniques = pd.factorize(tokens) if len(tokens) else (np.zeros(0, dtype=np.int64), np.array([], dtype=object))
        uniq_arr = np.asarray(uniques, dtype=object)
        table = self._token_table(uniq_arr)
        kind = table["kind"][codes]
        word = kind == _WORD
        is_det = np.isin(uniq_arr, list(DETERMINERS))[codes]
        is_lead = np.isin(uniq_arr, list(IMPERATIVE_LEADS))[codes]
        is_aux = np.isin(uniq_arr, list(AUXILIARIES))[codes]
        is_obj = np.isin(uniq_arr, list(OBJECT_STARTERS))[codes]

        same_prev = np.zeros(len(codes), dtype=bool)
        same_prev[1:] = msg[1:] == msg[:-1]
        prev_det = np.zeros(len(codes), dtype=bool)
        prev_det[1:] = is_det[:-1]
        prev_det &= same_prev

        modality = np.isin(uniq_arr, list(CERTAINTY)).astype(np.int8) - np.isin(uniq_arr, list(HEDGING)).astype(np.int8)

        # imperatives: clause-initial bare verbs (after an optional lead word)
        clause_start = word.copy()
        clause_start[1:] &= ~same_prev[1:] | (kind[:-1] == _BREAK)
        after_lead = np.zeros(len(codes), dtype=bool)
        after_lead[1:] = clause_start[:-1] & is_lead[:-1] & same_prev[1:] & word[1:]
        # a lead may itself be followed by a comma: "Together, act now"
        after_lead_comma = np.zeros(len(codes), dtype=bool)
        after_lead_comma[2:] = clause_start[:-2] & is_lead[:-2] & (kind[1:-1] == _COMMA) & same_prev[2:] & same_prev[1:-1]
        candidate = (clause_start | after_lead | after_lead_comma) & table["bare_verb"][codes]
        same_next = np.zeros(len(codes), dtype=bool)
        same_next[:-1] = same_prev[1:]
        next_obj = np.zeros(len(codes), dtype=bool)
        next_obj[:-1] = is_obj[1:] & same_next[:-1]
        next_adj = np.zeros(len(codes), dtype=bool)
        next_adj[:-1] = table["adjective"][codes][1:] & (kind[1:] == _WORD) & same_next[:-1]
        clause_end = ~same_next
        clause_end[:-1] |= kind[1:] == _BREAK
        next_aux = np.zeros(len(codes), dtype=bool)
        next_aux[:-1] = is_aux[1:]
        next_aux &= same_next
        prev_neg = np.zeros(len(codes), dtype=bool)
        prev_neg[1:] = np.isin(uniq_arr, ["don't", "dont", "never"])[codes][:-1] & same_prev[1:]
        imperative = candidate & ~next_aux & (~table["ambiguous"][codes] | next_obj | next_adj | clause_end | prev_neg)

        # agency: lexicon verbs, not after a determiner; an ambiguous form ("support", "clean", "fuels") only
        # in a verb context (after a subject pronoun, modal or "to", before an object, or as an imperative)
        prev_ctx = np.zeros(len(codes), dtype=bool)
        prev_ctx[1:] = np.isin(uniq_arr, list(VERB_CONTEXT))[codes][:-1] & same_prev[1:]
        verb_reading = ~table["bare_ambiguous"][codes] | prev_ctx | next_obj | next_adj | imperative
        pol = np.where(word & ~prev_det & verb_reading, table["agency"][codes], np.nan)
        return pd.DataFrame({
            "message": msg, "token": tokens, "agency": pol,
            "modality": modality[codes] if len(codes) else np.zeros(0, dtype=np.int8), "imperative": imperative,
        })


def persuasion_scores(texts: Sequence[str], lexicon: AgencyLexicon | str | Path | Mapping[str, str] | None = None) -> pd.DataFrame:
    """Per-message PBI and its components (see the module docstring for the exact definition)."""
    return PersuasionScorer(lexicon).score(texts)


def audit_persuasion(
    texts: Sequence[str],
    table: pd.DataFrame,
    backend: str = "offline",
    *,
    lexicon: AgencyLexicon | str | Path | Mapping[str, str] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    vary: Sequence[str] = DEFAULT_VARY,
) -> dict[str, Any]:
    """PBI audit: per-message scores, matched-pair gaps with bootstrap CI, Welch t (gender) and ANOVA
    (age). PBI is lexicon-based like the original, so there is no classifier backend: a ``backend`` other
    than "offline" (e.g. passed to every module by ``evaluate.combine``) is noted with a warning."""
    if check_backend(backend) != "offline":
        warnings.warn(f"persuasion_bias is lexicon-based (as in the original); backend={backend!r} does not apply "
                      f"and the lexicon scorer is used", stacklevel=2)
    scores = PersuasionScorer(lexicon).score(texts)
    report = audit_report(scores["pbi"].to_numpy(), table, n_boot=n_boot, seed=seed, vary=vary)
    report["audit"] = "persuasion_bias"
    report["backend"] = "offline"
    report["per_message"] = {c: scores[c].tolist() for c in scores.columns}
    return report
