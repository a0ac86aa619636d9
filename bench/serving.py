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
    """Run `gunicorn app_spec` on a free port (sync workers, or gthread with keep-alive when
    `threads` > 1); yield the port."""
    port = free_port()
    command = [GUNICORN, "-w", str(workers), "-b", f"127.0.0.1:{port}", "--log-level", "warning"]
    if threads > 1:
        command += ["-k", "gthread", "--threads", str(threads), "--keep-alive", "5"]
    process = subprocess.Popen([*command, app_spec], cwd=ROOT, env={**os.environ, **env})
    try:
        wait_until_up(port, env.get("BENCH_PROBE_PATH", "/"))
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextmanager
def make_serve(env: dict[str, str], workers: int = 2, app: str = "app:create_app"):
    """Run `make serve` (the production server, as deployed) on a free port; yield the port.
    `app` swaps the WSGI app for a baseline under the very same server settings."""
    port = free_port()
    env = {**os.environ, **env, "PORT": str(port), "WEB_WORKERS": str(workers)}
    command = ["make", "--no-print-directory", "-s", "serve", f"SERVE_APP={app}"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    try:
        wait_until_up(port, env.get("BENCH_PROBE_PATH", "/"))
        yield port
    finally:
        process.send_signal(signal.SIGTERM)  # make passes it on and waits for the server
        process.wait(timeout=30)


NGINX = "/usr/sbin/nginx"
NGINX_CONF = """daemon off; worker_processes {workers}; pid {tmp}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
  access_log off; sendfile on; tcp_nopush on; keepalive_requests 1000000;
  types {{ text/html html; application/rss+xml xml; }}
  client_body_temp_path {tmp}; proxy_temp_path {tmp}; fastcgi_temp_path {tmp};
  uwsgi_temp_path {tmp}; scgi_temp_path {tmp};
  server {{ listen 127.0.0.1:{port}; root {root}; }}
}}
"""


def nginx_missing() -> str | None:
    """Why nginx cannot run here, in one line, or None."""
    if not os.access(NGINX, os.X_OK):
        return "nginx is not installed (Debian: apt-get install nginx-light); skipping nginx."
    return None


@contextmanager
def nginx(root: Path, workers: int = 2):
    """Debian's nginx serving the files in `root` on a free port; yield the port."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-nginx-") as tmp:
        conf = Path(tmp) / "nginx.conf"
        conf.write_text(NGINX_CONF.format(workers=workers, tmp=tmp, port=port, root=root))
        command = [NGINX, "-c", str(conf), "-e", str(Path(tmp) / "error.log"), "-p", tmp]
        process = subprocess.Popen(command)
        try:
            wait_until_up(port, env_probe(root))
            yield port
        finally:
            process.send_signal(signal.SIGQUIT)  # nginx's graceful stop
            process.wait(timeout=30)


def env_probe(root: Path) -> str:
    """A path nginx serves from `root`, to know it is up."""
    return "/" + next(path.name for path in sorted(root.iterdir()) if path.is_file())


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
