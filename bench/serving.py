"""Start servers on free 127.0.0.1 ports (`make serve`, gunicorn, nginx) and load them with wrk."""

from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))


@dataclass(frozen=True)
class Server:
    """A running server: where it listens, and the process whose tree does the work."""

    port: int
    pid: int


def free_port() -> int:
    """A port nobody listens on, on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(port: int, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
    """One GET on 127.0.0.1; (status, body)."""
    status, _headers, body = get_with_headers(port, path, timeout)
    return status, body


def get_with_headers(
    port: int, path: str, timeout: float = 5.0
) -> tuple[int, list[tuple[str, str]], bytes]:
    """One GET on 127.0.0.1; (status, headers, body)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        connection.close()


def wait_until_up(port: int, path: str = "/", timeout: float = 120.0) -> float:
    """Poll until the server answers 200, within `timeout` seconds (a cold start of 1,000
    essays on a busy machine takes a while); return seconds waited."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        try:
            if get(port, path, timeout=2)[0] == 200:
                return time.perf_counter() - start
        except OSError:
            pass
        time.sleep(0.05)  # a poll interval for a benchmark, not a test
    raise RuntimeError(f"The server on port {port} did not answer within {timeout:g} s.")


@contextmanager
def gunicorn(app_spec: str, env: dict[str, str], workers: int = 2, threads: int = 1):
    """Run `gunicorn app_spec` on a free port (sync workers, or gthread with keep-alive when
    `threads` > 1); yield the Server."""
    port = free_port()
    command = [GUNICORN, "-w", str(workers), "-b", f"127.0.0.1:{port}", "--log-level", "warning"]
    if threads > 1:
        command += ["-k", "gthread", "--threads", str(threads), "--keep-alive", "5"]
    process = subprocess.Popen([*command, app_spec], cwd=ROOT, env={**os.environ, **env})
    try:
        wait_until_up(port, env.get("BENCH_PROBE_PATH", "/"))
        yield Server(port, process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextmanager
def make_serve(
    env: dict[str, str], workers: int = 2, app: str = "app:create_app", make_args: list[str] = ()
):
    """Run `make serve` (the production server, as deployed) on a free port; yield the Server.
    `app` swaps the WSGI app for a baseline under the very same server settings; `make_args`
    (`VAR=VALUE`) change one of those settings, to try it."""
    port = free_port()
    env = {**os.environ, **env, "PORT": str(port), "WEB_WORKERS": str(workers)}
    command = ["make", "--no-print-directory", "-s", "serve", f"SERVE_APP={app}", *make_args]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    try:
        wait_until_up(port, env.get("BENCH_PROBE_PATH", "/"))
        yield Server(port, process.pid)
    finally:
        process.send_signal(signal.SIGTERM)  # make passes it on and waits for the server
        process.wait(timeout=30)


NGINX = "/usr/sbin/nginx"
# The same work as the app's: keep-alive without a request cap, the file sent with sendfile,
# and (in `headers`) every header the app adds itself, so both answer the same bytes.
NGINX_CONF = """daemon off; worker_processes {workers}; pid {tmp}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
  access_log off; sendfile on; tcp_nopush on; keepalive_requests 1000000;
  types {{ text/html html; application/rss+xml xml; }} charset utf-8; charset_types *;
  client_body_temp_path {tmp}; proxy_temp_path {tmp}; fastcgi_temp_path {tmp};
  uwsgi_temp_path {tmp}; scgi_temp_path {tmp};
  server {{ listen 127.0.0.1:{port}; root {root};
{headers}
  }}
}}
"""
# Headers nginx writes by itself for a file (or that describe the connection, not the document).
NGINX_OWN = {"content-type", "content-length", "etag", "last-modified", "date", "server"}


def nginx_missing() -> str | None:
    """Why nginx cannot run here, in one line, or None."""
    if not os.access(NGINX, os.X_OK):
        return "nginx is not installed (Debian: apt-get install nginx-light); skipping nginx."
    return None


def nginx_locations(headers: dict[str, list[tuple[str, str]]]) -> str:
    """A `location` per file adding the app's own headers for it (security headers,
    Cache-Control), so nginx answers with the same header set as the app."""
    blocks = []
    for name, pairs in headers.items():
        lines = [
            f'add_header {header} "{value}" always;'
            for header, value in pairs
            if header.lower() not in NGINX_OWN and '"' not in value
        ]
        blocks.append(f"    location = /{name} {{ {' '.join(lines)} }}")
    return "\n".join(blocks)


@contextmanager
def nginx(root: Path, workers: int = 2, headers: dict[str, list[tuple[str, str]]] | None = None):
    """Debian's nginx serving the files in `root` on a free port, each with the headers the
    app sent for it (`headers`: file name -> header pairs); yield the Server."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-nginx-") as tmp:
        conf = Path(tmp) / "nginx.conf"
        locations = nginx_locations(headers or {})
        conf.write_text(
            NGINX_CONF.format(workers=workers, tmp=tmp, port=port, root=root, headers=locations)
        )
        command = [NGINX, "-c", str(conf), "-e", str(Path(tmp) / "error.log"), "-p", tmp]
        process = subprocess.Popen(command)
        try:
            wait_until_up(port, env_probe(root))
            yield Server(port, process.pid)
        finally:
            process.send_signal(signal.SIGQUIT)  # nginx's graceful stop
            process.wait(timeout=30)


def env_probe(root: Path) -> str:
    """A path nginx serves from `root`, to know it is up."""
    return "/" + next(path.name for path in sorted(root.iterdir()) if path.is_file())


def wrk(port: int, path: str, seconds: int = 5, connections: int = 8) -> float:
    """Requests per second from wrk (1 thread, keep-alive), bounded in time and connections."""
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


def load(server: Server, path: str, seconds: int) -> tuple[float, float]:
    """wrk on one server: (requests/s, microseconds of the server's CPU per request).

    The CPU figure counts the server's whole process tree (user and system time), not wrk's:
    on a machine shared with other work it moves far less than requests/s do, since a
    neighbour's load steals wall time from every server but adds no CPU to their requests.
    """
    before = tree_cpu_seconds(server.pid)
    rate = wrk(server.port, path, seconds)
    used = tree_cpu_seconds(server.pid) - before
    return rate, used / max(rate * seconds, 1) * 1e6


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds (user + system) used so far by `root` and its live descendants (Linux)."""
    parents, used = {}, {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{name}/stat").read_text()
        except OSError:  # the process ended meanwhile
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        parents[int(name)] = int(fields[1])
        used[int(name)] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
        tree.update(children)
        frontier.extend(children)
    return sum(used.get(pid, 0.0) for pid in tree)
