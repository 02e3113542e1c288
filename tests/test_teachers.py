"""Teachers against a loopback OpenAI-compatible server with injected faults, kill/resume, key hygiene."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from fairpp_hf.revision import MalformedReply, parse_revision, revision_messages
from fairpp_hf.teachers import JsonlCache, OpenAITeacher, TransformersTeacher, candidates_frame

SECRET = "sk-test-SECRET-1f2e3d4c5b6a"


def expected_text(messages: list[dict]) -> str:
    """What the fake teacher answers to a request (a pure function of the messages)."""
    digest = hashlib.sha1(json.dumps(messages, sort_keys=True).encode()).hexdigest()[:16]
    return f"Balanced message {digest}"


class FaultServer:
    """An OpenAI-compatible /chat/completions on 127.0.0.1 that fails ``fault_rate`` of calls.

    Faults (equally likely): HTTP 429, HTTP 500, a reply slower than the client timeout, malformed JSON.
    Records, per request content, every outcome served, so tests can check exactly-once behaviour.
    """

    def __init__(self, fault_rate=0.2, latency=0.0, seed=0, slow=1.0, key=SECRET):
        self.fault_rate, self.latency, self.slow, self.key = fault_rate, latency, slow, key
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.log: list[tuple[str, str]] = []  # (content key, outcome)
        self.in_flight = self.max_in_flight = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                with server.lock:
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    self._handle()
                finally:
                    with server.lock:
                        server.in_flight -= 1

            def _handle(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.headers.get("Authorization") != f"Bearer {server.key}":
                    return self._send(401, {"error": {"message": "bad key"}})
                ckey = hashlib.sha1(json.dumps(body["messages"], sort_keys=True).encode()).hexdigest()
                with server.lock:
                    r = server.rng.random()
                    outcome = "ok"
                    if r < server.fault_rate:
                        outcome = ("429", "500", "timeout", "malformed")[int(r / server.fault_rate * 4)]
                    server.log.append((ckey, outcome))
                time.sleep(server.latency)
                try:
                    if outcome == "429":
                        self._send(429, {"error": {"message": "slow down"}})
                    elif outcome == "500":
                        self._send(500, {"error": {"message": "boom"}})
                    elif outcome == "timeout":
                        time.sleep(server.slow)
                        self._send(200, self._reply(body))
                    elif outcome == "malformed":
                        self._send(200, None, raw=b'{"id": "x", "choices": [{"message": ')
                    else:
                        self._send(200, self._reply(body))
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _reply(self, body):
                return {"id": "cmpl-1", "object": "chat.completion", "created": 0, "model": body["model"],
                        "choices": [{"index": 0, "finish_reason": "stop", "message": {
                            "role": "assistant", "content": "Revised message: " + expected_text(body["messages"])}}],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}

            def _send(self, code, payload, raw=None):
                data = raw if raw is not None else json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    def outcomes(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        with self.lock:
            for k, o in self.log:
                out.setdefault(k, []).append(o)
        return out


def make_items(n: int) -> list[dict]:
    return [{"id": f"m{i}", "prompt": f"Generate a message {i}", "output": f"Base output number {i}.",
             "audience": "Senior (65+), Female, Midwest", "stance": "Clean-Energy", "theme": "Economy"}
            for i in range(n)]


def content_key(item: dict, index: int) -> str:
    return hashlib.sha1(json.dumps(revision_messages(item, index), sort_keys=True).encode()).hexdigest()


def teacher(server: FaultServer, tmp_path: Path, **kw) -> OpenAITeacher:
    opts = dict(base_url=server.url, api_key=SECRET, concurrency=8, backoff_base=0.01, backoff_max=0.05,
                timeout=0.4, max_retries=8, cache_path=tmp_path / "cache.jsonl")
    opts.update(kw)
    return OpenAITeacher("fake-teacher", **opts)


def test_parse_revision():
    assert parse_revision('Revised message: "Hello there."') == "Hello there."
    assert parse_revision("  Plain text ") == "Plain text"
    for bad in ["", "  ", '""', "Revision:   ", None]:
        with pytest.raises(MalformedReply):
            parse_revision(bad)


def test_faults_every_candidate_exactly_once(tmp_path, caplog):
    items = make_items(30)
    caplog.set_level(logging.DEBUG)
    with FaultServer(fault_rate=0.2, seed=3) as server:
        t = teacher(server, tmp_path)
        cands = t.revise(items, k=3)
        outcomes = server.outcomes()
    assert [(c.item_id, c.index) for c in cands] == [(it["id"], i) for it in items for i in range(3)]
    all_calls = [o for v in outcomes.values() for o in v]
    assert 0.1 < sum(o != "ok" for o in all_calls) / len(all_calls) < 0.35  # faults really were injected
    assert {"429", "500", "timeout", "malformed"} <= set(all_calls)
    n_malformed = 0
    for item in items:
        for i in range(3):
            c = next(c for c in cands if c.item_id == item["id"] and c.index == i)
            served = outcomes[content_key(item, i)]
            assert served.count("ok") + served.count("malformed") == 1  # no answered request was sent again
            if served[-1] == "malformed":
                n_malformed += 1
                assert c.status == "failed" and c.error_kind == "malformed" and c.text is None
            else:
                assert c.status == "ok" and c.text == expected_text(revision_messages(item, i))
    assert n_malformed > 0
    assert t.last_stats["failed"] == t.last_stats["failed_malformed"] == n_malformed
    assert t.last_stats["ok"] == 90 - n_malformed and t.last_stats["retries"] > 0
    lines = (tmp_path / "cache.jsonl").read_text().splitlines()
    assert len(lines) == 90 and len({json.loads(x)["key"] for x in lines}) == 90

    # rerun: everything comes from the cache; retry_failed re-asks only the malformed ones
    with FaultServer(fault_rate=0.0) as server:
        again = teacher(server, tmp_path).revise(items, k=3)
        assert server.log == [] and [c.text for c in again] == [c.text for c in cands]
        fixed = teacher(server, tmp_path, retry_failed=True).revise(items, k=3)
        assert len(server.log) == n_malformed
    assert all(c.status == "ok" for c in fixed)
    assert len(JsonlCache(tmp_path / "cache.jsonl").load()) == 90
    frame = candidates_frame(fixed)
    assert frame["candidate_id"].is_unique and len(frame) == 90


def test_concurrency_is_bounded(tmp_path):
    with FaultServer(fault_rate=0.0, latency=0.03) as server:
        cands = teacher(server, tmp_path, concurrency=5, cache_path=None).revise(make_items(40), k=1)
    assert all(c.status == "ok" for c in cands)
    assert 3 <= server.max_in_flight <= 5  # requests overlap, never more than `concurrency` at once


CHILD = textwrap.dedent("""
    import json, sys
    from fairpp_hf.teachers import OpenAITeacher
    url, cache, out = sys.argv[1:4]
    items = [{"id": f"m{i}", "prompt": f"Generate a message {i}", "output": f"Base output number {i}.",
              "audience": "Senior (65+), Female, Midwest", "stance": "Clean-Energy", "theme": "Economy"}
             for i in range(40)]
    t = OpenAITeacher("fake-teacher", base_url=url, concurrency=4, backoff_base=0.01, backoff_max=0.05,
                      timeout=0.5, max_retries=8, cache_path=cache)
    cands = t.revise(items, k=2)
    json.dump({"ids": [c.candidate_id for c in cands], "status": [c.status for c in cands],
               "stats": t.last_stats}, open(out, "w"))
""")


def test_sigkill_and_resume(tmp_path):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    cache, out = tmp_path / "cache.jsonl", tmp_path / "out.json"
    env = {**os.environ, "OPENAI_API_KEY": SECRET}
    with FaultServer(fault_rate=0.1, latency=0.05, seed=5) as server:
        proc = subprocess.Popen([sys.executable, str(script), server.url, str(cache), str(out)], cwd=tmp_path,
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.time() + 60
        while time.time() < deadline and (not cache.exists() or len(cache.read_bytes().splitlines()) < 15):
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL and not out.exists()
        with open(cache, "ab") as fh:  # also simulate a kill in the middle of a write
            fh.write(b'{"key": "abc", "item_id": "m1')
        before = JsonlCache(cache)
        done = before.load()
        assert before.truncated_lines == 1 and 15 <= len(done) < 80
        calls_before = len(server.log)

        proc = subprocess.run([sys.executable, str(script), server.url, str(cache), str(out)], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        after = server.log[calls_before:]
    result = json.loads(out.read_text())
    assert result["ids"] == [f"m{i}#{j}" for i in range(40) for j in range(2)]
    assert result["stats"]["cached"] == len(done) and result["stats"]["total"] == 80
    answered_before = {k for k, o in server.log[:calls_before] if o in ("ok", "malformed")}
    resent = [k for k, o in after if o in ("ok", "malformed") and k in answered_before]
    cached_ckeys = {content_key(it, j) for it in make_items(40) for j in range(2)
                    if f"m{it['id'][1:]}#{j}" in {f"{r['item_id']}#{r['index']}" for r in done.values()}}
    assert not (cached_ckeys & {k for k, _ in after})  # nothing cached was requested again
    assert len(resent) <= 4  # at most the requests in flight at the kill (concurrency 4) were asked twice
    lines = cache.read_text().splitlines()
    keys = [json.loads(x)["key"] for x in lines]
    assert len(keys) == len(set(keys)) == 80  # nothing lost, nothing duplicated, truncated tail repaired
    assert SECRET not in cache.read_text() + proc.stdout + proc.stderr


def test_cache_corruption_names_line(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text('{"key": "a", "status": "ok"}\nnot json\n{"key": "b", "status": "ok"}\n')
    with pytest.raises(ValueError, match="line 2"):
        JsonlCache(path).load()


def test_key_never_leaks(tmp_path, caplog, capsys, monkeypatch):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("MY_TEACHER_KEY", SECRET)
    with FaultServer(fault_rate=0.4, seed=1) as server:
        t = OpenAITeacher("fake-teacher", base_url=server.url, api_key_env="MY_TEACHER_KEY", concurrency=4,
                          backoff_base=0.01, backoff_max=0.02, timeout=0.3, max_retries=1, progress=True,
                          cache_path=tmp_path / "c.jsonl")
        cands = t.revise(make_items(10), k=2)
        assert any(c.status == "failed" for c in cands)
        bad = OpenAITeacher("fake-teacher", base_url=server.url, api_key=SECRET + "-wrong", max_retries=0)
        with pytest.raises(RuntimeError, match="HTTP 401") as err:
            bad.revise(make_items(1), k=1)
        assert SECRET not in str(err.value)
    captured = capsys.readouterr()
    text = caplog.text + captured.out + captured.err + repr(t) + repr(vars(t)) + str(t.last_stats)
    text += "".join(str(c) for c in cands)
    for f in tmp_path.rglob("*"):
        if f.is_file():
            text += f.read_text(errors="replace")
    assert SECRET not in text


def test_missing_key_and_bad_items(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ValueError, match="OPENAI_API_KEY"):
        OpenAITeacher("m")
    t = OpenAITeacher("m", api_key="x", base_url="http://127.0.0.1:9/v1")
    with pytest.raises(ValueError, match="item 1 has no 'output'"):
        t.revise([{"id": 1, "prompt": "p", "output": "o"}, {"id": 2, "prompt": "p"}], k=1)
    with pytest.raises(ValueError, match="id 1 occurs more than once"):
        t.revise([{"id": 1, "prompt": "p", "output": "o"}] * 2, k=1)
    with pytest.raises(ValueError, match="k must be"):
        t.revise([{"id": 1, "prompt": "p", "output": "o"}], k=0)


def test_transformers_teacher_batched_and_cached(tiny_model_dir, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    side = tok.padding_side
    t = TransformersTeacher(model, tok, batch_size=4, max_new_tokens=8, cache_path=tmp_path / "c.jsonl")
    cands = t.revise(make_items(3), k=2)
    assert [(c.item_id, c.index) for c in cands] == [(f"m{i}", j) for i in range(3) for j in range(2)]
    assert all((c.status == "ok") == bool(c.text) for c in cands)
    assert Counter(c.status for c in cands)["ok"] == t.last_stats["ok"]
    assert tok.padding_side == side  # the caller's tokenizer is left as it was
    again = TransformersTeacher(model, tok, batch_size=4, max_new_tokens=8, cache_path=tmp_path / "c.jsonl")
    cands2 = again.revise(make_items(3), k=2)
    assert again.last_stats["requested"] == 0 and [c.text for c in cands2] == [c.text for c in cands]
