"""`zoo serve` under load: N concurrent clients on 127.0.0.1 send the shipped sentiment, NER
and translation models real inputs (their validation split) for a fixed time, with
micro-batching on (the defaults) and off (`--max-batch-size 1`), and the table goes into
the README between the `serve` markers: requests per second, p50 and p99 latency, errors
(any answer but 200) and the server's peak resident memory (Linux's VmHWM).

Each server is its own `zoo serve` process; the clients are asyncio tasks sharing one
aiohttp session, one request of one instance each, in a loop until the time is up (httpx's
async client tops out near 300 requests/s on our 2 cores, itself the bottleneck; aiohttp's
manages about 4,000 against `/healthz`).

    python benchmarks/serve.py [--seconds 10] [--clients 32] [--only PATTERN] [--inputs 256]
"""

from __future__ import annotations

import argparse
import asyncio
import fnmatch
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

from deploy import validation_data
from report import kept_rows, publish
from zoo import registry

#: the shipped models served, one of each kind of input and output
MODELS = ("sentiment-mr-lstm", "ner-conll2003-lstm", "translation-multi30k-de-en-lstm")
#: `zoo serve` options of each mode (batching on: its defaults)
MODES = {"on": [], "off": ["--max-batch-size", "1"]}


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(model: str, options: list[str], port: int) -> subprocess.Popen:
    """`zoo serve MODEL` on `port`, returned once `/readyz` says ready.

    Raises:
        RuntimeError: the server exited, or was not ready within 5 minutes.
    """
    server = subprocess.Popen(
        [sys.executable, "-m", "zoo", "serve", model, "--port", str(port), *options],
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"zoo serve {model} exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz"):
                return server
        except OSError:  # not listening yet, or 503 while warming up
            pass
        time.sleep(0.5)
    server.kill()
    raise RuntimeError(f"zoo serve {model} was not ready within 5 minutes")


def peak_memory_mb(pid: int) -> float:
    """A process's peak resident memory in MB (`VmHWM` of /proc; 0 where there is none)."""
    status = Path(f"/proc/{pid}/status")
    if not status.is_file():
        return 0.0
    for line in status.read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def load(url: str, inputs: list[Any], clients: int, seconds: float) -> dict[str, Any]:
    """`clients` loops of one-instance requests to `url` for `seconds`.

    Returns:
        `{"requests", "errors", "seconds", "latencies_ms"}`.
    """
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        stop = time.monotonic() + seconds

        async def one_client(offset: int) -> None:
            nonlocal errors
            i = offset
            while time.monotonic() < stop:
                started = time.perf_counter()
                body = {"instances": [inputs[i % len(inputs)]]}
                try:
                    async with session.post(url, json=body) as response:
                        await response.read()
                        ok = response.status == 200
                except aiohttp.ClientError:
                    ok = False
                latencies.append((time.perf_counter() - started) * 1000)
                errors += not ok
                i += clients

        started = time.monotonic()
        await asyncio.gather(*(one_client(c) for c in range(clients)))
        elapsed = time.monotonic() - started
    return {
        "requests": len(latencies),
        "errors": errors,
        "seconds": elapsed,
        "latencies_ms": latencies,
    }


def measure(model: str, inputs: list[Any], clients: int, seconds: float) -> list[dict[str, Any]]:
    """One row per mode: `model` served with batching on and off, under `clients` clients."""
    rows = []
    for mode, options in MODES.items():
        port = free_port()
        server = start_server(model, options, port)
        try:
            url = f"http://127.0.0.1:{port}/v1/models/{model}:predict"
            asyncio.run(load(url, inputs, clients, min(2.0, seconds)))  # warm connections
            run = asyncio.run(load(url, inputs, clients, seconds))
            memory = peak_memory_mb(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=60)
        latencies = run.pop("latencies_ms")
        rows.append(
            {
                "model": model,
                "batching": mode,
                "clients": clients,
                **run,
                "requests_per_s": run["requests"] / run["seconds"],
                "p50_ms": statistics.median(latencies),
                "p99_ms": float(np.percentile(latencies, 99)),
                "peak_memory_mb": memory,
            }
        )
        print(rows[-1], flush=True)
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """The README table, with each model's speed-up of batching."""
    lines = [
        "| model | batching | clients | requests/s | p50 | p99 | errors | peak memory | speed-up |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    off = {r["model"]: r["requests_per_s"] for r in rows if r["batching"] == "off"}
    for r in rows:
        ratio = r["requests_per_s"] / off[r["model"]] if r["model"] in off else float("nan")
        lines.append(
            f"| {r['model']} | {r['batching']} | {r['clients']} | {r['requests_per_s']:,.0f} | "
            f"{r['p50_ms']:.1f} ms | {r['p99_ms']:.1f} ms | {r['errors']} | "
            f"{r['peak_memory_mb']:,.0f} MB | {ratio:.2f}× |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="load time per run")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients")
    parser.add_argument("--inputs", type=int, default=256, help="validation inputs sent")
    parser.add_argument(
        "--only",
        default="*",
        help="re-measure the models matching this pattern; keep the others' last rows",
    )
    args = parser.parse_args()
    # a run of some models (`--only`) keeps the other models' last rows
    kept = kept_rows("serve", "model", lambda name: fnmatch.fnmatch(name, args.only))
    rows = []
    for name in MODELS:
        if not fnmatch.fnmatch(name, args.only):
            continue
        inputs, _ = validation_data(registry.load(name), args.inputs)
        rows.extend(measure(name, inputs, args.clients, args.seconds))
    rows = sorted(kept + rows, key=lambda r: MODELS.index(r["model"]))
    publish("serve", rows, table(rows))


if __name__ == "__main__":
    main()
