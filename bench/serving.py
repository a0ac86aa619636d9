"""Start an app under gunicorn on a free 127.0.0.1 port and load it with wrk; for benchmarks."""

from __future__ import annotations

import http.client
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))


def free_port() -> int:
    """A port nobody listens on, on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(port: int, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
    """One GET on 127.0.0.1; (status, body)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def wait_until_up(port: int, path: str = "/", attempts: int = 600) -> float:
    """Poll until the server answers 200 (bounded); return seconds waited."""
    start = time.perf_counter()
    for _ in range(attempts):
        try:
            if get(port, path, timeout=2)[0] == 200:
                return time.perf_counter() - start
        except OSError:
            pass
        time.sleep(0.01)  # a poll interval for a benchmark, not a test
    raise RuntimeError(f"The server on port {port} did not answer within the attempts.")


@contextmanager
def gunicorn(app_spec: str, env: dict[str, str], workers: int = 2, threads: int = 1):
    """Run `gunicorn app_spec` with sync workers on a free port; yield the port."""
    port = free_port()
    command = [
        GUNICORN,
        "-w",
        str(workers),
        "--threads",
        str(threads),
        "-b",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        app_spec,
    ]
    process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env})
    try:
        wait_until_up(port, env.get("BENCH_PROBE_PATH", "/"))
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def wrk(port: int, path: str, seconds: int = 5, connections: int = 8) -> float:
    """Requests per second from wrk, bounded in time and connections."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed for this benchmark: apt-get install wrk")
    output = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", f"http://127.0.0.1:{port}{path}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if errors:
        raise RuntimeError(f"{errors.group(1)} requests failed during the run:\n{output}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
