"""OpenAITeacher throughput: 200 revision requests against a loopback OpenAI-compatible server that answers
after 50 ms, at concurrency 16 versus sequential (concurrency 1). Target: >= 8x faster.

    /work/venv/bin/python benchmarks/bench_teachers.py [--requests 200] [--latency 0.05] [--concurrency 16]

The server is aiohttp on 127.0.0.1 in its own process (an async server, so the 50 ms waits overlap as they
would on a real endpoint). Every request goes over the wire; a third run adds the fsynced JSONL cache.
The ceiling is the client's CPU per request (openai + httpx): on a loaded machine it, not the 50 ms, limits
the concurrent run, so the load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time

from aiohttp import web

from fairpp_hf.teachers import OpenAITeacher


async def _serve(latency: float) -> None:
    async def completions(request: web.Request) -> web.Response:
        body = await request.json()
        await asyncio.sleep(latency)
        return web.json_response({
            "id": "cmpl", "object": "chat.completion", "created": 0, "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "A balanced revision."}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})

    app = web.Application()
    app.router.add_post("/v1/chat/completions", completions)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(site._server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()


def start_server(latency: float) -> tuple[str, subprocess.Popen]:
    """Start the loopback endpoint in its own process (like a real server, outside the client's GIL)."""
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(latency)], stdout=subprocess.PIPE, text=True)
    port = proc.stdout.readline().strip()
    if not port:
        raise RuntimeError("the loopback server did not start")
    return f"http://127.0.0.1:{port}/v1", proc


def timed(url: str, concurrency: int, n: int, cache: str | None = None) -> tuple[float, float]:
    """Wall seconds and client CPU seconds for ``n`` revisions (one per item) at ``concurrency``."""
    items = [{"id": i, "prompt": f"Generate message {i}", "output": f"Base message {i}."} for i in range(n)]
    teacher = OpenAITeacher("bench-teacher", base_url=url, api_key="bench-key", concurrency=concurrency,
                            cache_path=cache)
    start, cpu = time.perf_counter(), time.process_time()
    cands = teacher.revise(items, k=1)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    assert len(cands) == n and all(c.status == "ok" for c in cands), teacher.last_stats
    return elapsed, cpu


def main() -> None:
    """Measure both settings in the same run and print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--serve", type=float, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        asyncio.run(_serve(args.serve))
        return
    url, server = start_server(args.latency)
    try:
        timed(url, args.concurrency, 8)  # warm-up: imports, client setup
        seq, seq_cpu = timed(url, 1, args.requests)
        con, con_cpu = timed(url, args.concurrency, args.requests)
        with tempfile.TemporaryDirectory() as tmp:
            cached, _ = timed(url, args.concurrency, args.requests, cache=f"{tmp}/cache.jsonl")
    finally:
        server.kill()
        server.wait()
    n = args.requests
    print(f"{n} requests, server latency {args.latency * 1000:.0f} ms, load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} CPUs")
    print(f"sequential (concurrency 1):      {seq:7.2f} s  {n / seq:6.1f} req/s  client CPU {seq_cpu / n * 1e3:.1f} ms/req")
    print(f"concurrency {args.concurrency:<3d}                 {con:7.2f} s  {n / con:6.1f} req/s  "
          f"client CPU {con_cpu / n * 1e3:.1f} ms/req")
    print(f"concurrency {args.concurrency:<3d} + fsynced cache  {cached:7.2f} s  {n / cached:6.1f} req/s")
    print(f"speed-up: {seq / con:.1f}x (target >= 8x); with the cache {seq / cached:.1f}x")


if __name__ == "__main__":
    main()
