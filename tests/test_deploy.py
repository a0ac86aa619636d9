"""The README's deployment recipe, as shipped in deploy/: nginx in front with TLS and
X-Forwarded-*, the app believing one proxy, and systemd units that systemd accepts."""

from __future__ import annotations

import http.client
import os
import re
import shutil
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import free_port
from flask import request as flask_request
from werkzeug.serving import make_server

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
HOST = "essays.example.org"


def test_systemd_units_and_timer_are_accepted_by_systemd(tmp_path):
    """`systemd-analyze verify` reads the units as systemd would (keys, commands that exist,
    the timer's calendar), with /srv/newsletter's virtualenv pointed at this checkout's."""
    if SYSTEMD_ANALYZE is None:
        pytest.skip("systemd-analyze is not installed; the units are unchecked.")
    venv = str(Path(sys.executable).parent.parent)
    for name in ("newsletter.service", "newsletter-send.service", "newsletter-send.timer"):
        text = (DEPLOY / name).read_text().replace("/srv/newsletter/.venv", venv)
        (tmp_path / name).write_text(re.sub(r"(User|Group)=newsletter", r"\1=root", text))
    names = ["newsletter.service", "newsletter-send.timer", "newsletter-send.service"]
    result = subprocess.run(
        [SYSTEMD_ANALYZE, "verify", *names], cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Unknown" not in result.stderr, result.stderr


def site_config(site: str, tmp: Path, http_port: int, https_port: int, app_port: int) -> str:
    """deploy/nginx.conf on 127.0.0.1's free ports with a test certificate, in a main config."""
    site = re.sub(r"\n\s*listen \[::\]:\d+[^;]*;", "", site)
    site = site.replace("listen 80;", f"listen 127.0.0.1:{http_port};")
    site = site.replace("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;")
    site = re.sub(r"ssl_certificate (\S+);", f"ssl_certificate {tmp / 'cert.pem'};", site)
    site = re.sub(r"ssl_certificate_key (\S+);", f"ssl_certificate_key {tmp / 'key.pem'};", site)
    site = site.replace("http://127.0.0.1:8000", f"http://127.0.0.1:{app_port}")
    temp = "".join(
        f"{kind}_temp_path {tmp / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    user = "user root;\n" if os.geteuid() == 0 else ""
    return (
        f"{user}pid {tmp / 'nginx.pid'};\nerror_log {tmp / 'error.log'};\nevents {{}}\n"
        f"http {{\naccess_log off;\n{temp}{site}\n}}\n"
    )


@pytest.fixture
def proxied(config, request, tmp_path) -> Iterator[tuple[int, int]]:
    """The app (TRUSTED_PROXIES = 1) on a free port behind nginx run with deploy/nginx.conf;
    yields nginx's (http, https) ports."""
    if not os.access(NGINX, os.X_OK):
        pytest.skip("nginx is not installed (Debian package nginx-light); the recipe is unchecked.")
    config["TRUSTED_PROXIES"] = 1
    app = request.getfixturevalue("app")

    @app.get("/_probe")
    def probe():
        return f"{flask_request.scheme} {flask_request.host} {flask_request.remote_addr}"

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
         f"/CN={HOST}", "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")],
        check=True, capture_output=True,
    )  # fmt: skip
    ports = free_port(), free_port()
    conf = tmp_path / "nginx.conf"
    conf.write_text(site_config((DEPLOY / "nginx.conf").read_text(), tmp_path, *ports, server.port))
    nginx = subprocess.Popen(
        [NGINX, "-c", str(conf), "-p", str(tmp_path), "-g", "daemon off;"],
        stderr=subprocess.DEVNULL,  # it logs to error.log in tmp_path
    )
    try:
        wait_for_port(ports[1], nginx)
        yield ports
    finally:
        nginx.terminate()
        nginx.wait(10)
        server.shutdown()
        server.server_close()


def wait_for_port(port: int, process: subprocess.Popen) -> None:
    """Connect until nginx listens (bounded; fails at once if nginx exited)."""
    for _ in range(500):
        if process.poll() is not None:
            raise AssertionError("nginx stopped; see error.log in the test's folder")
        probe = http.client.HTTPConnection("127.0.0.1", port, timeout=0.1)
        try:
            probe.connect()
            probe.close()
            return
        except OSError:
            probe.close()
            threading.Event().wait(0.01)  # a bounded poll: nginx gives no readiness signal
    raise AssertionError(f"nginx never listened on {port}")


def get(port: int, path: str, headers: dict | None = None, tls: bool = True):
    context = ssl._create_unverified_context()  # the test's own self-signed certificate
    conn = (
        http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
        if tls
        else http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    )
    try:
        conn.request("GET", path, headers={"Host": HOST, **(headers or {})})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read().decode()
    finally:
        conn.close()


def test_behind_nginx_the_app_sees_https_the_host_and_the_readers_own_address(proxied):
    _http, https = proxied
    status, _, body = get(https, "/_probe", {"X-Forwarded-For": "203.0.113.9"})
    assert status == 200
    assert body == f"https {HOST} 127.0.0.1"  # a forged X-Forwarded-For is replaced by nginx
    assert get(https, "/healthz")[::2] == (200, "ok\n")
    status, headers, _ = get(https, "/")
    assert status == 200 and headers["Strict-Transport-Security"].startswith("max-age=")


def test_plain_http_is_sent_to_https(proxied):
    http_port, _https = proxied
    status, headers, _ = get(http_port, "/posts/x/?a=1", tls=False)
    assert status == 301 and headers["Location"] == f"https://{HOST}/posts/x/?a=1"
