"""Fair-PP records: read the authors' layout (CSV, parquet, JSON, or the Hub repo) into one
canonical ``datasets.Dataset`` with one row per question and the seven personas' answers as codes.

Canonical columns (see :data:`RECORD_FEATURES`): ``question_id``, ``topic``, ``problem_category``,
``specific_problem``, ``group_type``, ``group``, ``perspective`` ("t.d" string), ``dimension``,
``template`` (the authors' ``Option`` column: which lens template the question uses, not an answer),
``question``, ``option_a``/``option_b``/``option_c`` (option lines, "A. ..."), ``persona_1`` ..
``persona_7`` (answer codes 0 = A, 1 = B, 2 = C). Columns the reader does not know are kept as they are.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import datasets
import numpy as np
import pandas as pd
import pyarrow as pa

from .personas import PERSONA_IDS
from .taxonomy import DIMENSIONS, parse_perspective

logger = logging.getLogger(__name__)

Unparseable = Literal["C", "drop", "error"]
UNPARSEABLE_POLICIES: tuple[str, ...] = ("C", "drop", "error")

#: The answer class label shared by every persona column (code 0 = A, 1 = B, 2 = C / N/A).
ANSWER_LABEL = datasets.ClassLabel(names=["A", "B", "C"])
PERSONA_COLUMNS: tuple[str, ...] = tuple(f"persona_{k}" for k in PERSONA_IDS)

#: Authors' column name -> canonical name, for the metadata columns every record must carry.
METADATA_COLUMNS: dict[str, str] = {
    "Topic": "topic",
    "Problem Category": "problem_category",
    "Specific Problem": "specific_problem",
    "Group Type": "group_type",
    "Group": "group",
    "Perspective": "perspective",
    "Option": "template",
    "Question": "question",
}
_TEXT_COLUMNS = (
    "question_id", "topic", "problem_category", "specific_problem", "group_type", "group",
    "perspective", "dimension", "template", "question", "option_a", "option_b", "option_c",
)
RECORD_FEATURES = datasets.Features(
    {**{c: datasets.Value("string") for c in _TEXT_COLUMNS}, **{c: ANSWER_LABEL for c in PERSONA_COLUMNS}}
)

_ANSWER_COL = re.compile(r"^(?P<prefix>.+)_role_(?P<k>[1-7])_answer$")
_RAW_COL = re.compile(r"^(?P<prefix>.+)_role_(?P<k>[1-7])$")
_ANY_ROLE_COL = re.compile(r"^(?P<prefix>.+)_role_(?P<k>-?\d+)(?:_answer)?$|^persona_(?P<p>-?\d+)$")
_CODE_MAP = {"0": 0, "1": 1, "2": 2, "0.0": 0, "1.0": 1, "2.0": 2, "A": 0, "B": 1, "C": 2}
# A raw answer that starts with the letter ("B", "B.", "(B)", "B) ...", "B: ...").
_LEADING_LETTER = r"^\(?([ABC])(?:[\.\):]|\s|$)"
# A bare letter in any case with optional punctuation ("b", "b.", "(c)"); longer lower-case text is not
# read by its first letter (an answer starting with the article "a" is not option A).
_BARE_LETTER = r"^\(?([ABCabc])[\.\):]?$"
# A raw answer that names the letter after "answer"/"option"/"choose" ("The answer is B.").
_NAMED_LETTER = r"(?:answer|option|choose|choice)\s*(?:is|would be|:)?\s*\(?([ABC])\b"
_OPTION_LINE = {letter: rf"(?m)^\s*({letter}\.\s*.*?)\s*$" for letter in "ABC"}


@dataclass
class LoadReport:
    """What :func:`load_records` read, coerced and dropped: nothing is lost without a count here."""

    sources: list[str] = field(default_factory=list)
    rows_read: int = 0
    rows_kept: int = 0
    rows_dropped: int = 0
    missing: dict[int, int] = field(default_factory=dict)
    unparseable: dict[int, int] = field(default_factory=dict)
    coerced_to_c: int = 0
    dropped_columns: list[str] = field(default_factory=list)
    answer_source: str = ""

    def summary(self) -> str:
        """One readable paragraph of the counts."""
        miss = sum(self.missing.values())
        bad = sum(self.unparseable.values())
        text = (
            f"read {self.rows_read} rows from {len(self.sources)} source(s); kept {self.rows_kept}, "
            f"dropped {self.rows_dropped}; persona answers missing: {miss}, unparseable: {bad}, "
            f"coerced to C: {self.coerced_to_c}; answers from {self.answer_source!r} columns"
        )
        if self.dropped_columns:
            text += f"; index columns removed: {self.dropped_columns}"
        return text


def _read_file(path: Path) -> pd.DataFrame:
    suffix = "".join(path.suffixes[-2:]).lower() if path.suffix == ".gz" else path.suffix.lower()
    if path.stat().st_size == 0:
        raise ValueError(f"{path}: the file is empty (0 bytes)")
    if suffix in (".csv", ".csv.gz"):
        try:
            frame = pd.read_csv(path, dtype={"Perspective": str, "perspective": str})
        except pd.errors.EmptyDataError:
            raise ValueError(f"{path}: the file has no header and no rows") from None
    elif suffix == ".parquet":
        frame = pd.read_parquet(path)
    elif suffix in (".json", ".jsonl", ".json.gz", ".jsonl.gz"):
        frame = pd.read_json(path, lines=suffix.startswith(".jsonl"))
    else:
        raise ValueError(f"{path}: unsupported file type {suffix!r}; use .csv, .parquet, .json or .jsonl")
    if len(frame) == 0:
        raise ValueError(f"{path}: the file has no rows")
    return frame


def _expand_sources(path_or_repo: str | Path | None, data_files: str | Sequence[str] | None) -> list[Path]:
    files: list[Path] = []
    if data_files is not None:
        names = [data_files] if isinstance(data_files, (str, Path)) else list(data_files)
        files.extend(Path(n) for n in names)
    if path_or_repo is not None:
        p = Path(path_or_repo)
        if p.is_dir():
            found = sorted(
                f for f in p.rglob("*") if f.is_file() and re.search(r"\.(csv|parquet|jsonl?)(\.gz)?$", f.name)
            )
            if not found:
                raise ValueError(f"{p}: the folder holds no .csv, .parquet, .json or .jsonl file")
            files.extend(found)
        else:
            files.append(p)
    for f in files:
        if not f.exists():
            raise FileNotFoundError(f"data file {str(f)!r} does not exist")
    return files


def _is_hub_id(path_or_repo: str | Path | None) -> bool:
    return (
        isinstance(path_or_repo, str)
        and not Path(path_or_repo).exists()
        and re.fullmatch(r"[A-Za-z0-9][\w.-]*/[\w.-]+", path_or_repo) is not None
    )


def read_frames(
    path_or_repo: str | Path | None = None,
    *,
    data_files: str | Sequence[str] | None = None,
    split: str = "test",
    revision: str | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """Read raw rows from local files or a Hub dataset repo; returns the frame and source names.

    Every row carries ``_source`` (file or repo) and ``_row`` (0-based data row in that source) so
    that errors can name where a bad value came from.
    """
    if path_or_repo is None and data_files is None:
        raise ValueError("give a path, a folder, data_files=[...] or a Hub id such as 'tools-o/Fair-PP'")
    frames: list[pd.DataFrame] = []
    sources: list[str] = []
    if _is_hub_id(path_or_repo) and data_files is None:
        # Through datasets' own Hub loader (works offline only from its cache).
        hub = datasets.load_dataset(str(path_or_repo), split=split, revision=revision)
        frame = hub.to_pandas()
        if len(frame) == 0:
            raise ValueError(f"Hub dataset {path_or_repo!r} split {split!r} has no rows")
        frame["_source"], frame["_row"] = f"{path_or_repo}[{split}]", np.arange(len(frame))
        frames.append(frame)
        sources.append(f"{path_or_repo}[{split}]")
    else:
        for f in _expand_sources(path_or_repo, data_files):
            frame = _read_file(f)
            frame["_source"], frame["_row"] = str(f), np.arange(len(frame))
            frames.append(frame)
            sources.append(str(f))
    return pd.concat(frames, ignore_index=True), sources


def _missing_columns_error(frame: pd.DataFrame, missing: list[str], source: str) -> ValueError:
    hints = []
    for m in missing:
        close = difflib.get_close_matches(m, [str(c) for c in frame.columns], n=1, cutoff=0.6)
        hints.append(f"{m!r}" + (f" (found {close[0]!r}: misnamed?)" if close else ""))
    return ValueError(f"{source}: missing required column(s) {', '.join(hints)}")


def _answer_sources(frame: pd.DataFrame) -> tuple[dict[int, str], str]:
    """Pick, per persona, the column holding its answer: canonical, coded, or raw text."""
    for c in map(str, frame.columns):
        m = _ANY_ROLE_COL.match(c)
        k = None if m is None else int(m["k"] if m["k"] is not None else m["p"])
        if k is not None and k not in PERSONA_IDS:
            raise ValueError(f"column {c!r} names persona {k}, but Fair-PP personas are numbered 1..7")
    if all(c in frame.columns for c in PERSONA_COLUMNS):
        return {k: f"persona_{k}" for k in PERSONA_IDS}, "persona_k"
    coded: dict[str, dict[int, str]] = {}
    raw: dict[str, dict[int, str]] = {}
    for c in map(str, frame.columns):
        if m := _ANSWER_COL.match(c):
            coded.setdefault(m["prefix"], {})[int(m["k"])] = c
        elif m := _RAW_COL.match(c):
            raw.setdefault(m["prefix"], {})[int(m["k"])] = c
    for kind, table in (("coded", coded), ("raw text", raw)):
        for prefix, cols in table.items():
            if len(cols) == len(PERSONA_IDS):
                return dict(sorted(cols.items())), f"{prefix}_role_k ({kind})"
    partial = {**coded, **raw}
    if partial:
        prefix, cols = max(partial.items(), key=lambda kv: len(kv[1]))
        absent = [k for k in PERSONA_IDS if k not in cols]
        raise ValueError(f"answer columns for persona(s) {absent} are missing (found {sorted(cols.values())})")
    raise ValueError(
        "no persona answer columns: expected 'gpt-4o-mini_role_{k}_answer' (codes), "
        "'gpt-4o-mini_role_{k}' (raw text) or 'persona_{k}' for k = 1..7"
    )


def normalize_answers(values: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Turn answers given as codes (0/1/2), letters (A/B/C) or raw answer text into codes.

    Returns ``(codes, missing, unparseable)``: codes are -1 where the answer is missing or cannot
    be parsed; the two boolean masks say which. Vectorized with pandas string methods.
    """
    is_missing = values.isna().to_numpy().copy()
    text = values.astype("string").str.strip()
    is_missing |= (text.fillna("") == "").to_numpy()
    upper = text.str.upper()
    codes = upper.map(_CODE_MAP)
    need = codes.isna() & ~pd.Series(is_missing, index=values.index)
    if need.any():
        sub = text[need]
        lead = sub.str.extract(_LEADING_LETTER, expand=False)
        lead = lead.fillna(sub.str.extract(_BARE_LETTER, expand=False).str.upper())
        named = sub.str.extract("(?i)" + _NAMED_LETTER, expand=False).str.upper()
        letters = lead.fillna(named)
        codes.loc[need] = letters.map(_CODE_MAP)
    out = codes.to_numpy(dtype="float64", na_value=np.nan)
    unparseable = np.isnan(out) & ~is_missing
    return np.where(np.isnan(out), -1, out).astype(np.int64), is_missing, unparseable


def _where(frame: pd.DataFrame, idx: int) -> str:
    return f"{frame['_source'].iloc[idx]} row {int(frame['_row'].iloc[idx])}"


def records_from_frame(
    frame: pd.DataFrame, *, unparseable: Unparseable = "C", report: LoadReport | None = None
) -> datasets.Dataset:
    """Validate and normalise a raw frame (authors' or canonical layout) into canonical records."""
    if unparseable not in UNPARSEABLE_POLICIES:
        raise ValueError(f"unparseable={unparseable!r} must be one of {UNPARSEABLE_POLICIES}")
    report = report if report is not None else LoadReport()
    frame = frame.copy()
    if "_source" not in frame:
        frame["_source"], frame["_row"] = "<frame>", np.arange(len(frame))
    if len(frame) == 0:
        raise ValueError("no rows to read: the input is empty")
    source = ", ".join(dict.fromkeys(frame["_source"].astype(str)))
    index_cols = [c for c in frame.columns if re.fullmatch(r"Unnamed: \d+", str(c))]
    frame = frame.drop(columns=index_cols)
    report.dropped_columns.extend(index_cols)
    if "simulation_question" in frame and "Question" not in frame:
        frame = frame.rename(columns={"simulation_question": "Question"})
    canonical = all(v in frame.columns for v in METADATA_COLUMNS.values())
    if not canonical:
        missing = [k for k in METADATA_COLUMNS if k not in frame.columns]
        if missing:
            raise _missing_columns_error(frame, missing, source)
        frame = frame.rename(columns=METADATA_COLUMNS)

    answer_cols, report.answer_source = _answer_sources(frame)
    n = len(frame)
    report.rows_read += n
    codes = np.empty((n, len(PERSONA_IDS)), dtype=np.int64)
    bad = np.zeros(n, dtype=bool)
    for j, (k, col) in enumerate(answer_cols.items()):
        c, miss, unp = normalize_answers(frame[col])
        if unparseable == "error" and (miss.any() or unp.any()):
            i = int(np.flatnonzero(miss | unp)[0])
            what = "missing" if miss[i] else f"unparseable ({str(frame[col].iloc[i])!r})"
            raise ValueError(
                f"{_where(frame, i)}, column {col!r}: answer is {what}; "
                f"{int(miss.sum())} missing and {int(unp.sum())} unparseable in this column "
                "(use unparseable='C' to map them to C as the paper does, or 'drop')"
            )
        report.missing[k] = report.missing.get(k, 0) + int(miss.sum())
        report.unparseable[k] = report.unparseable.get(k, 0) + int(unp.sum())
        bad |= miss | unp
        codes[:, j] = c

    # Metadata validation: text columns must be present and non-empty.
    for col in ("question", "perspective", "specific_problem", "group"):
        empty = frame[col].isna().to_numpy() | (frame[col].astype("string").str.strip().fillna("") == "").to_numpy()
        if empty.any():
            i = int(np.flatnonzero(empty)[0])
            raise ValueError(f"{_where(frame, i)}, column {col!r}: empty value ({int(empty.sum())} such rows)")
    uniq = frame["perspective"].unique()
    mapping = {}
    for u in uniq:
        try:
            mapping[u] = parse_perspective(u)
        except ValueError as err:
            i = int(np.flatnonzero((frame["perspective"] == u).to_numpy())[0])
            raise ValueError(f"{_where(frame, i)}, column 'perspective': {err}") from None
    frame["perspective"] = frame["perspective"].map(mapping)
    frame["dimension"] = frame["perspective"].str.split(".").str[1].astype(int).map(
        {d: dim.name for d, dim in DIMENSIONS.items()}
    )
    if not canonical:
        questions = frame["question"].astype(str)
        for letter in "ABC":
            frame[f"option_{letter.lower()}"] = questions.str.extract(_OPTION_LINE[letter], expand=False)
        no_opt = frame[["option_a", "option_b"]].isna().any(axis=1).to_numpy()
        if no_opt.any():
            i = int(np.flatnonzero(no_opt)[0])
            raise ValueError(
                f"{_where(frame, i)}, column 'Question': no 'A. ...' and 'B. ...' option lines "
                f"({int(no_opt.sum())} such rows)"
            )
        frame["option_c"] = frame["option_c"].fillna("C. N/A")
        frame["question_id"] = question_ids(frame["question"])

    if unparseable == "drop":
        keep = ~bad
        report.rows_dropped += int(bad.sum())
    else:
        keep = np.ones(n, dtype=bool)
        report.coerced_to_c += int((codes == -1).sum())
        codes[codes == -1] = 2
    frame = frame.loc[keep].reset_index(drop=True)
    codes = codes[keep]
    if len(frame) == 0:
        raise ValueError(f"{source}: every row was dropped for missing or unparseable answers")
    for j, col in enumerate(PERSONA_COLUMNS):
        frame[col] = codes[:, j]
    drop = set(answer_cols.values()) - set(PERSONA_COLUMNS)
    raw_text = {c for c in frame.columns if _RAW_COL.match(str(c)) or _ANSWER_COL.match(str(c))}
    frame = frame.drop(columns=sorted((drop | raw_text) & set(frame.columns)) + ["_source", "_row"])
    report.rows_kept += len(frame)
    for c in _TEXT_COLUMNS:
        frame[c] = frame[c].astype(str)
    extras = [c for c in frame.columns if c not in RECORD_FEATURES]
    ordered = frame[list(RECORD_FEATURES) + extras]
    features = RECORD_FEATURES.copy()
    if extras:
        features.update(datasets.Dataset.from_pandas(ordered[extras].head(1), preserve_index=False).features)
    return datasets.Dataset.from_pandas(ordered, features=features, preserve_index=False)


def question_ids(questions: pd.Series) -> np.ndarray:
    """Stable 16-hex-digit ids from question text (same text -> same id, in any file or order)."""
    hashed = pd.util.hash_pandas_object(questions.astype(str), index=False).to_numpy(dtype=np.uint64)
    return np.char.mod("%016x", hashed)


def load_records(
    path_or_repo: str | Path | None = None,
    *,
    data_files: str | Sequence[str] | None = None,
    split: str = "test",
    revision: str | None = None,
    unparseable: Unparseable = "C",
    return_report: bool = False,
) -> datasets.Dataset | tuple[datasets.Dataset, LoadReport]:
    """Load Fair-PP records from a file, a folder, ``data_files`` or a Hub id (``"tools-o/Fair-PP"``).

    Answers are normalised to codes 0/1/2. ``unparseable`` says what happens to a missing or
    unparseable persona answer: ``"C"`` maps it to C (N/A) as the paper does, ``"drop"`` drops the
    row, ``"error"`` raises naming file, row and column. Counts are logged and, with
    ``return_report=True``, returned as a :class:`LoadReport`.
    """
    frame, sources = read_frames(path_or_repo, data_files=data_files, split=split, revision=revision)
    report = LoadReport(sources=sources)
    records = records_from_frame(frame, unparseable=unparseable, report=report)
    if report.rows_dropped or report.coerced_to_c or report.dropped_columns:
        logger.warning("fairpp-hf load_records: %s", report.summary())
    else:
        logger.info("fairpp-hf load_records: %s", report.summary())
    return (records, report) if return_report else records


def arrow_table(dataset: datasets.Dataset):
    """The dataset's rows as one ``pyarrow.Table`` (selections and shuffles applied), for vectorized access.

    A selected or shuffled dataset keeps an indices mapping; datasets gathers it one row slice at a
    time (~0.1 s per 30k rows and column), so the mapping is applied here with one vectorized ``take``.
    """
    indices = getattr(dataset, "_indices", None)
    table = getattr(getattr(dataset, "data", None), "table", None)
    if indices is not None and isinstance(table, pa.Table) and indices.num_columns == 1:
        return table.take(indices.column(0))
    return dataset.with_format("arrow")[:]


def column(dataset: datasets.Dataset, name: str) -> np.ndarray:
    """One column as a numpy array straight from Arrow: no per-row Python access."""
    if name not in dataset.column_names:
        raise ValueError(f"dataset has no column {name!r}; columns are {dataset.column_names}")
    return arrow_table(dataset.select_columns([name])).column(name).to_numpy(zero_copy_only=False)


def answer_matrix(records: datasets.Dataset | pd.DataFrame) -> np.ndarray:
    """The (n, 7) int array of persona answer codes from records."""
    if isinstance(records, datasets.Dataset):
        missing = [c for c in PERSONA_COLUMNS if c not in records.column_names]
        if missing:
            raise ValueError(f"records lack persona answer column(s) {missing}")
        table = arrow_table(records.select_columns(list(PERSONA_COLUMNS)))
        return np.stack([table.column(c).to_numpy() for c in PERSONA_COLUMNS], axis=1).astype(np.int64)
    return records[list(PERSONA_COLUMNS)].to_numpy(dtype=np.int64)


def split_by_question(
    records: datasets.Dataset, *, test_size: float = 0.1, seed: int = 0
) -> datasets.DatasetDict:
    """Deterministic train/test split by question text: a question is never on both sides.

    The side of a question depends only on its text and ``seed`` (a seeded hash), so it does not
    change when rows are reordered or the file is subset.
    """
    if not 0.0 <= test_size < 1.0:
        raise ValueError(f"test_size={test_size} must be in [0, 1)")
    key = f"fairpp{seed:011d}"[-16:]
    questions = pd.Series(column(records, "question"))
    hashed = pd.util.hash_pandas_object(questions, index=False, hash_key=key).to_numpy(dtype=np.uint64)
    u = (hashed >> np.uint64(11)).astype(np.float64) / float(1 << 53)
    is_test = u < test_size
    # One vectorized take per side (an indices mapping would make every later column read gather row by row).
    table = arrow_table(records)
    return datasets.DatasetDict(
        {
            name: datasets.Dataset(table.take(pa.array(np.flatnonzero(mask))), info=records.info.copy())
            for name, mask in (("train", ~is_test), ("test", is_test))
        }
    )
