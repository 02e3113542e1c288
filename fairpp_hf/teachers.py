"""Teacher LLMs that write revision candidates: any OpenAI-compatible endpoint, or a local transformers model.

Both teachers share one interface, ``revise(items, k=K) -> list[Candidate]``: K revisions of each base
output (prompts from :mod:`fairpp_hf.revision`), one :class:`Candidate` per (item, revision index), in
item order. Every candidate comes back exactly once, either ``status="ok"`` with its text or
``status="failed"`` with the reason; ``teacher.last_stats`` counts them.

Resumable cache: with ``cache_path``, each finished request is appended to a JSONL file keyed by a SHA-256
of the request (model, messages, sampling parameters, revision index). Each line is flushed to the OS at
once, so a killed process loses nothing; fsyncs are grouped (at most ``fsync_interval`` seconds apart, and
on close), which bounds what a power loss can take (``fsync_interval=0`` fsyncs every line). A killed run
resumes from the file: finished requests are not sent again, and a truncated last line (a kill mid-write)
is dropped and counted. Failures are cached too: those caused by exhausted retries are retried on the next
run; malformed replies only with ``retry_failed=True``.
The API key is never written to the cache, logged, or included in error messages.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .revision import MalformedReply, items_from, parse_revision, revision_messages

logger = logging.getLogger(__name__)

#: Failure kinds that a later run retries automatically (the request never got a usable answer).
RETRYABLE_KINDS = frozenset({"rate_limit", "server_error", "timeout", "connection"})


@dataclass
class Candidate:
    """One teacher revision of one base output: ``status`` is "ok" (``text`` set) or "failed" (``error`` set)."""

    item_id: Any
    index: int
    text: str | None
    status: str
    error: str | None = None
    error_kind: str | None = None
    teacher: str = ""
    key: str = ""
    attempts: int = 0

    @property
    def candidate_id(self) -> str:
        """A stable id, ``"{item_id}#{index}"``."""
        return f"{self.item_id}#{self.index}"


@dataclass
class TeacherRequest:
    """A chat request for revision ``index`` of item ``item_id``; ``key`` hashes what determines the reply."""

    item_id: Any
    index: int
    messages: list[dict[str, str]]
    key: str = ""


def request_key(model: str, messages: list[dict[str, str]], params: dict[str, Any], index: int) -> str:
    """SHA-256 of the request content (never of credentials or endpoint), the cache key."""
    payload = json.dumps({"model": model, "messages": messages, "params": params, "index": index},
                         sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class JsonlCache:
    """Append-only JSONL store of finished requests; the last line per key wins.

    Loading tolerates a truncated last line (a process killed mid-write): it is cut off the file and
    counted in ``truncated_lines``. Any other unreadable line raises an error naming its line number.
    """

    def __init__(self, path: str | os.PathLike, fsync_interval: float = 0.1):
        self.path = Path(path)
        self.fsync_interval = fsync_interval
        self.truncated_lines = 0
        self._fh = None
        self._synced = 0.0

    def load(self) -> dict[str, dict[str, Any]]:
        """Read every record (repairing a truncated tail) and return key -> last record."""
        records: dict[str, dict[str, Any]] = {}
        if not self.path.exists():
            return records
        data = self.path.read_bytes()
        offset, good_end = 0, 0
        lines = data.split(b"\n")
        for number, raw in enumerate(lines, start=1):
            is_last = number == len(lines)
            end = offset + len(raw) + (0 if is_last else 1)
            if raw.strip():
                try:
                    rec = json.loads(raw)
                    if not isinstance(rec, dict) or "key" not in rec:
                        raise ValueError("not a cache record")
                except ValueError as err:
                    if is_last:  # no newline after it: the write was cut short
                        self.truncated_lines += 1
                        logger.warning("teacher cache %s: dropped a truncated last line", self.path)
                        break
                    raise ValueError(f"teacher cache {self.path}: line {number} is not a valid record ({err})") from None
                records[rec["key"]] = rec
            good_end = end
            offset = end
        if good_end < len(data):
            with open(self.path, "r+b") as fh:
                fh.truncate(good_end)
        return records

    def append(self, record: dict[str, Any]) -> None:
        """Write one record as one line and flush it to the OS (a killed process cannot lose it); fsync when
        ``fsync_interval`` seconds have passed since the last fsync (group commit)."""
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "ab")
            self._synced = time.monotonic()
        self._fh.write((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
        self._fh.flush()
        now = time.monotonic()
        if now - self._synced >= self.fsync_interval:
            os.fsync(self._fh.fileno())
            self._synced = now

    def close(self) -> None:
        """fsync and close the file handle (reopened on the next append)."""
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
            self._fh = None


def _run_sync(factory: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    """Run a coroutine from sync code, also when an event loop is already running (e.g. Jupyter)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(factory())
        except BaseException as err:  # re-raised in the caller's thread
            box["error"] = err

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


class Teacher:
    """Shared logic: revision requests, the resumable cache, counting. Subclasses implement ``_complete``."""

    name: str = "teacher"

    def __init__(self, *, cache_path: str | os.PathLike | None = None, retry_failed: bool = False,
                 fsync_interval: float = 0.1):
        self.cache = JsonlCache(cache_path, fsync_interval) if cache_path is not None else None
        self.retry_failed = retry_failed
        self.last_stats: dict[str, Any] = {}

    def _params(self) -> dict[str, Any]:
        raise NotImplementedError

    def build_requests(self, items: Any, k: int) -> list[TeacherRequest]:
        """K revision requests per item (see :func:`fairpp_hf.revision.revision_messages`)."""
        if not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a positive integer; got {k!r}")
        params = self._params()
        requests = []
        for item in items_from(items):
            for index in range(k):
                messages = revision_messages(item, index)
                requests.append(TeacherRequest(item["id"], index, messages,
                                               request_key(self.name, messages, params, index)))
        return requests

    def revise(self, items: Any, k: int = 4) -> list[Candidate]:
        """K revision candidates of every item's ``output``, each exactly once, in item order."""
        return self.complete(self.build_requests(items, k))

    def complete(self, requests: list[TeacherRequest]) -> list[Candidate]:
        """Answer prepared requests, skipping those already in the cache; one candidate per request."""
        keys = [r.key for r in requests]
        if len(set(keys)) != len(keys):
            raise ValueError("two requests have the same key (same item, revision index and prompt)")
        cached = self.cache.load() if self.cache is not None else {}
        results: dict[str, Candidate] = {}
        todo = []
        for req in requests:
            rec = cached.get(req.key)
            reuse = rec is not None and (
                rec["status"] == "ok" or (not self.retry_failed and rec.get("error_kind") not in RETRYABLE_KINDS))
            if reuse:
                results[req.key] = Candidate(**{f: rec.get(f) for f in Candidate.__dataclass_fields__})
            else:
                todo.append(req)
        stats: Counter = Counter(total=len(requests), cached=len(requests) - len(todo), requested=len(todo))
        if self.cache is not None:
            stats["truncated_cache_lines"] = self.cache.truncated_lines
        try:
            for cand in self._complete(todo, stats):
                results[cand.key] = cand
        finally:
            if self.cache is not None:
                self.cache.close()
        out = [results[r.key] for r in requests]
        stats["ok"] = sum(c.status == "ok" for c in out)
        stats["failed"] = sum(c.status != "ok" for c in out)
        for c in out:
            if c.status != "ok":
                stats[f"failed_{c.error_kind}"] += 1
        self.last_stats = dict(stats)
        if stats["failed"]:
            logger.warning("%s: %d of %d candidates failed (%s)", self.name, stats["failed"], len(out),
                           {k: v for k, v in stats.items() if k.startswith("failed_")})
        return out

    def _record(self, cand: Candidate) -> Candidate:
        if self.cache is not None:
            self.cache.append(asdict(cand))
        return cand

    def _complete(self, requests: list[TeacherRequest], stats: Counter) -> Iterable[Candidate]:
        raise NotImplementedError


@dataclass
class _Outcome:
    text: str | None = None
    kind: str | None = None
    message: str | None = None
    retry_after: float | None = None
    extra: dict = field(default_factory=dict)


class OpenAITeacher(Teacher):
    """A teacher behind any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, TGI, llama.cpp, ...).

    Parameters: ``model``; ``base_url`` (None = the client's default / ``OPENAI_BASE_URL``); ``api_key``
    or the environment variable named by ``api_key_env`` (the key is handed to the client only, never
    stored on this object in readable form, logged or cached); ``concurrency`` requests in flight;
    ``max_retries`` retries with exponential backoff (``backoff_base * 2**attempt``, jittered, capped at
    ``backoff_max``; a 429's Retry-After is honoured) on 429, 5xx, timeouts and connection errors;
    ``timeout`` seconds per request; sampling ``temperature``, ``max_tokens``, ``top_p``, ``seed``;
    ``cache_path`` for the resumable JSONL cache (``fsync_interval``: see the module docstring). Malformed replies (unparseable JSON, no choices,
    empty content) are not retried: they become failed candidates, counted in ``last_stats``.
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        concurrency: int = 16,
        max_retries: int = 6,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        timeout: float = 60.0,
        temperature: float = 0.7,
        max_tokens: int = 256,
        top_p: float | None = None,
        seed: int | None = None,
        cache_path: str | os.PathLike | None = None,
        retry_failed: bool = False,
        fsync_interval: float = 0.1,
        progress: bool = False,
    ):
        super().__init__(cache_path=cache_path, retry_failed=retry_failed, fsync_interval=fsync_interval)
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1; got {concurrency}")
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0; got {max_retries}")
        key = api_key if api_key is not None else os.environ.get(api_key_env)
        if not key:
            raise ValueError(f"no API key: pass api_key= or set the environment variable {api_key_env}")
        self._key_getter = lambda: key  # kept out of __dict__'s repr and of every record
        self.name = model
        self.model = model
        self.base_url = base_url
        self.concurrency = concurrency
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.timeout = timeout
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.top_p = top_p
        self.seed = seed
        self.progress = progress

    def __repr__(self) -> str:
        return f"OpenAITeacher(model={self.model!r}, base_url={self.base_url!r}, concurrency={self.concurrency})"

    def _params(self) -> dict[str, Any]:
        return {"temperature": self.temperature, "max_tokens": self.max_tokens, "top_p": self.top_p, "seed": self.seed}

    def _complete(self, requests: list[TeacherRequest], stats: Counter) -> list[Candidate]:
        if not requests:
            return []
        return _run_sync(lambda: self._acomplete(requests, stats))

    async def arevise(self, items: Any, k: int = 4) -> list[Candidate]:
        """Async :meth:`revise` for callers already inside an event loop."""
        return await asyncio.to_thread(self.revise, items, k)

    async def _acomplete(self, requests: list[TeacherRequest], stats: Counter) -> list[Candidate]:
        import openai

        client = openai.AsyncOpenAI(api_key=self._key_getter(), base_url=self.base_url, max_retries=0,
                                    timeout=self.timeout)
        sem = asyncio.Semaphore(self.concurrency)
        bar = None
        if self.progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(requests), desc=f"teacher {self.model}", unit="req")

        async def one(req: TeacherRequest) -> Candidate:
            async with sem:
                cand = await self._request(client, req, stats)
            self._record(cand)  # single-threaded event loop: appends never interleave
            if bar is not None:
                bar.update(1)
            return cand

        try:
            return list(await asyncio.gather(*(one(r) for r in requests)))
        finally:
            if bar is not None:
                bar.close()
            await client.close()

    async def _call(self, client: Any, req: TeacherRequest) -> _Outcome:
        import openai

        params = {k: v for k, v in self._params().items() if v is not None}
        try:
            resp = await client.chat.completions.create(model=self.model, messages=req.messages, **params)
        except openai.RateLimitError as err:
            return _Outcome(kind="rate_limit", message="HTTP 429", retry_after=_retry_after(err))
        except openai.InternalServerError as err:
            return _Outcome(kind="server_error", message=f"HTTP {err.status_code}")
        except openai.APITimeoutError:
            return _Outcome(kind="timeout", message=f"no reply within {self.timeout}s")
        except openai.APIConnectionError as err:
            return _Outcome(kind="connection", message=f"connection error ({type(err.__cause__ or err).__name__})")
        except (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError) as err:
            raise RuntimeError(f"teacher endpoint refused the request: HTTP {err.status_code} "
                               f"({type(err).__name__}); check the model name, base_url and API key") from None
        except openai.APIStatusError as err:
            if err.status_code >= 500:
                return _Outcome(kind="server_error", message=f"HTTP {err.status_code}")
            return _Outcome(kind="bad_request", message=f"HTTP {err.status_code}")
        except (openai.APIResponseValidationError, ValueError, TypeError, KeyError) as err:
            return _Outcome(kind="malformed", message=f"unreadable reply ({type(err).__name__})")
        try:
            if isinstance(resp, str) or not getattr(resp, "choices", None):
                raise MalformedReply("reply has no choices")
            return _Outcome(text=parse_revision(resp.choices[0].message.content))
        except (MalformedReply, AttributeError, IndexError) as err:
            return _Outcome(kind="malformed", message=str(err) if isinstance(err, MalformedReply) else
                            f"unreadable reply ({type(err).__name__})")

    async def _request(self, client: Any, req: TeacherRequest, stats: Counter) -> Candidate:
        attempt = 0
        while True:
            out = await self._call(client, req)
            attempt += 1
            if out.kind is None:
                return Candidate(req.item_id, req.index, out.text, "ok", teacher=self.name, key=req.key,
                                 attempts=attempt)
            stats[f"error_{out.kind}"] += 1
            if out.kind not in RETRYABLE_KINDS or attempt > self.max_retries:
                note = f" after {attempt} attempts" if out.kind in RETRYABLE_KINDS else ""
                return Candidate(req.item_id, req.index, None, "failed", error=f"{out.message}{note}",
                                 error_kind=out.kind, teacher=self.name, key=req.key, attempts=attempt)
            stats["retries"] += 1
            delay = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
            if out.retry_after is not None:
                delay = max(delay, min(out.retry_after, self.backoff_max))
            logger.debug("%s: %s on %s, retry %d in %.2fs", self.name, out.kind, req.key[:12], attempt, delay)
            await asyncio.sleep(delay)


def _retry_after(err: Any) -> float | None:
    try:
        value = err.response.headers.get("retry-after")
        return float(value) if value is not None else None
    except (AttributeError, TypeError, ValueError):
        return None


class TransformersTeacher(Teacher):
    """A local causal LM as teacher, generating revisions in left-padded batches.

    ``model`` is a model id/path or a loaded ``PreTrainedModel`` (then pass ``tokenizer``). The chat
    template is used when the tokenizer has one, else the messages are joined as plain text.
    Sampling (``do_sample``, ``temperature``, ``top_p``) is seeded by ``seed`` once per run. Same
    ``revise``/cache/stats interface as :class:`OpenAITeacher`; an empty generation is a failed
    ("malformed") candidate.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any = None,
        *,
        batch_size: int = 8,
        max_new_tokens: int = 96,
        do_sample: bool = True,
        temperature: float = 0.8,
        top_p: float = 0.95,
        seed: int = 0,
        device: str | None = None,
        cache_path: str | os.PathLike | None = None,
        retry_failed: bool = False,
        fsync_interval: float = 0.1,
    ):
        super().__init__(cache_path=cache_path, retry_failed=retry_failed, fsync_interval=fsync_interval)
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if isinstance(model, str | os.PathLike):
            self.name = str(model)
            tokenizer = tokenizer or AutoTokenizer.from_pretrained(model)
            model = AutoModelForCausalLM.from_pretrained(model)
        else:
            self.name = getattr(getattr(model, "config", None), "_name_or_path", "") or type(model).__name__
            if tokenizer is None:
                raise ValueError("tokenizer is required when model is a loaded model instance")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1; got {batch_size}")
        self.model = model.to(device) if device else model
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.max_new_tokens = max_new_tokens
        self.do_sample = do_sample
        self.temperature = temperature
        self.top_p = top_p
        self.seed = seed

    def _params(self) -> dict[str, Any]:
        return {"max_new_tokens": self.max_new_tokens, "do_sample": self.do_sample,
                "temperature": self.temperature, "top_p": self.top_p, "seed": self.seed}

    def _render(self, messages: list[dict[str, str]]) -> str:
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        return "\n\n".join(m["content"] for m in messages) + "\n\n"

    def _complete(self, requests: list[TeacherRequest], stats: Counter) -> list[Candidate]:
        import torch

        if not requests:
            return []
        tok = self.tokenizer
        old_side = tok.padding_side
        tok.padding_side = "left"
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
        torch.manual_seed(self.seed)
        was_training = self.model.training
        self.model.eval()
        out: list[Candidate] = []
        try:
            for start in range(0, len(requests), self.batch_size):
                batch = requests[start:start + self.batch_size]
                enc = tok([self._render(r.messages) for r in batch], return_tensors="pt", padding=True,
                          add_special_tokens=False).to(self.model.device)
                gen_kwargs: dict[str, Any] = {"max_new_tokens": self.max_new_tokens, "do_sample": self.do_sample,
                                              "pad_token_id": tok.pad_token_id}
                if self.do_sample:
                    gen_kwargs.update(temperature=self.temperature, top_p=self.top_p)
                t0 = time.perf_counter()
                with torch.no_grad():
                    ids = self.model.generate(**enc, **gen_kwargs)
                logger.debug("%s: batch of %d in %.2fs", self.name, len(batch), time.perf_counter() - t0)
                texts = tok.batch_decode(ids[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
                for req, text in zip(batch, texts, strict=True):
                    try:
                        cand = Candidate(req.item_id, req.index, parse_revision(text), "ok", teacher=self.name,
                                         key=req.key, attempts=1)
                    except MalformedReply as err:
                        cand = Candidate(req.item_id, req.index, None, "failed", error=str(err),
                                         error_kind="malformed", teacher=self.name, key=req.key, attempts=1)
                    out.append(self._record(cand))
        finally:
            tok.padding_side = old_side
            self.model.train(was_training)
        return out


def candidates_frame(candidates: list[Candidate]) -> Any:
    """The candidates as a pandas DataFrame with a ``candidate_id`` column (``"{item_id}#{index}"``)."""
    import pandas as pd

    frame = pd.DataFrame([asdict(c) for c in candidates],
                         columns=list(Candidate.__dataclass_fields__))
    frame.insert(0, "candidate_id", [c.candidate_id for c in candidates])
    return frame
