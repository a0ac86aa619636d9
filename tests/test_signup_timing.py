"""A stranger cannot tell a new address from a known one by the time the sign-up takes, and a
mail server that hangs slows no page: both measured on the production server (`make serve`).

Sign-ups: one round posts the form 200 times for each of three kinds of address (new, pending,
active), on a fresh connection each, after a warm-up that is not counted. They go in chunks of
25 of each kind shuffled together: a burst of load from another process falls on every kind
alike, and the kind of a sign-up says nothing of the kind before it (a new address's mail is
sent in the background right after its answer, and slows whatever request comes next, which
strict alternation would pin on the known kinds). For each known kind against the new one, and for each measure (time to the last byte
of the answer, time to the server's close of the connection), the round tells the kinds apart
when the medians differ by more than MEDIAN_BOUND, or when a two-sided Mann-Whitney U test or a
two-sample Kolmogorov-Smirnov test rejects at ALPHA / 8 (Bonferroni over the 8 tests, so the
round's family-wise level is ALPHA). A round that tells them apart is repeated on a fresh sample
before the test fails: a slow moment of the shared machine must show twice.
"""

from __future__ import annotations

import math
import random
import socket
import statistics
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest
from conftest import RecordingHandler, SMTPServer, free_port
from e2e.live import LiveSite, wait_until

SAMPLES = 200  # per kind and round
WARM_UP = 20  # sign-ups of each kind first, not counted
CHUNK = 25  # sign-ups of each kind shuffled together: a burst of load hits every kind alike
KNOWN = 20  # addresses of each known kind, cycled through
ALPHA = 0.01  # family-wise level of one round's eight tests
MEDIAN_BOUND = 0.0015  # seconds: a larger gap between medians tells the kinds apart
KINDS = ("new", "pending", "active")


# --- two-sample statistics, from the standard library ------------------------------------------


def mann_whitney(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """The U statistic of `a` against `b` and its two-sided p-value (normal approximation with
    the tie correction, fine for samples of more than 20)."""
    pooled = sorted([(value, 0) for value in a] + [(value, 1) for value in b])
    ranks, ties, start = [0.0] * len(pooled), 0.0, 0
    while start < len(pooled):
        end = start
        while end + 1 < len(pooled) and pooled[end + 1][0] == pooled[start][0]:
            end += 1
        for index in range(start, end + 1):
            ranks[index] = (start + end) / 2 + 1  # the average rank of a run of equal values
        ties += (end - start + 1) ** 3 - (end - start + 1)
        start = end + 1
    n1, n2 = len(a), len(b)
    u = sum(rank for rank, (_, group) in zip(ranks, pooled, strict=True) if group == 0)
    u -= n1 * (n1 + 1) / 2
    n = n1 + n2
    sigma = math.sqrt(n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1))))
    z = (abs(u - n1 * n2 / 2) - 0.5) / sigma  # with the continuity correction
    return u, math.erfc(max(z, 0.0) / math.sqrt(2))


def kolmogorov_smirnov(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """The two-sample statistic D (largest gap between the empirical distributions) and its
    asymptotic p-value (Kolmogorov's series, with Stephens' small-sample correction)."""
    a, b = sorted(a), sorted(b)
    i = j = 0
    d = 0.0
    while i < len(a) and j < len(b):
        value = min(a[i], b[j])
        while i < len(a) and a[i] == value:
            i += 1
        while j < len(b) and b[j] == value:
            j += 1
        d = max(d, abs(i / len(a) - j / len(b)))
    en = math.sqrt(len(a) * len(b) / (len(a) + len(b)))
    lam = (en + 0.12 + 0.11 / en) * d
    p = 2 * sum((-1) ** (k - 1) * math.exp(-2 * k * k * lam * lam) for k in range(1, 101))
    return d, min(1.0, max(0.0, p))


def test_the_statistics_reject_a_shift_and_accept_the_same_distribution():
    """The two tests above, on samples whose answer is known."""
    rng = random.Random(5321)
    same = [rng.gauss(0.012, 0.002) for _ in range(400)]
    assert mann_whitney(same[:200], same[200:])[1] > 0.01
    assert kolmogorov_smirnov(same[:200], same[200:])[1] > 0.01
    shifted = [value + 0.001 for value in same[200:]]  # half a standard deviation
    assert mann_whitney(same[:200], shifted)[1] < 0.001
    assert kolmogorov_smirnov(same[:200], shifted)[1] < 0.001
    assert mann_whitney([1, 2, 3], [4, 5, 6])[0] == 0  # all of a below all of b


# --- the sign-up, timed on the wire -------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """Seconds from sending the request to the answer's last byte, and to the server's close."""

    answered: float
    closed: float


def timed_sign_up(port: int, address: str) -> Timing:
    """Post the sign-up form on a new connection and time its answer and its close."""
    body = urlencode({"email": address, "website": ""}).encode()
    head = (
        "POST /subscribe HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nSec-Fetch-Site: same-origin\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        started = time.perf_counter()
        sock.sendall(head + body)
        received = b""
        while b"\r\n\r\n" not in received:
            received += receive(sock)
        headers, _, content = received.partition(b"\r\n\r\n")
        assert headers.startswith(b"HTTP/1.1 200"), headers
        length = content_length(headers)
        while len(content) < length:
            content += receive(sock)
        answered = time.perf_counter()
        while sock.recv(65536):
            pass
        return Timing(answered - started, time.perf_counter() - started)


def receive(sock: socket.socket) -> bytes:
    """The next bytes of an answer; the server closing before the end is a failure."""
    chunk = sock.recv(65536)
    assert chunk, "the server closed the connection before the end of its answer"
    return chunk


def content_length(headers: bytes) -> int:
    """The Content-Length of an answer's head (the sign-up page always has one)."""
    for line in headers.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    raise AssertionError(f"no Content-Length in {headers!r}")


# --- the site under test ----------------------------------------------------------------------


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    """A real SMTP server that takes every confirmation mail."""
    server = SMTPServer(RecordingHandler())
    server.controller.start()
    yield server
    server.controller.stop()


@pytest.fixture
def site(tmp_path: Path, smtp: SMTPServer) -> Iterator[LiveSite]:
    """The site under `make serve` with two workers, with pending and active readers."""
    live = LiveSite(tmp_path, free_port(), smtp_port=smtp.port)
    live.prepare()
    live.env.update(FLASK_SIGNUP_RATE_LIMIT="100000 per minute")
    live.start()
    live.add_subscribers(*(f"active-{n}@example.org" for n in range(KNOWN)))
    for n in range(KNOWN):
        timed_sign_up(live.port, f"pending-{n}@example.org")
    smtp.handler.wait_for(KNOWN, timeout=60)  # their mail went out: they will get no other
    yield live
    live.stop()


class Addresses:
    """The next address of each kind: new ones never seen before, known ones cycled."""

    def __init__(self) -> None:
        self.count = 0

    def next(self, kind: str) -> str:
        self.count += 1
        if kind == "new":
            return f"new-{self.count}@example.org"
        return f"{kind}-{self.count % KNOWN}@example.org"


def sample(site: LiveSite, addresses: Addresses, rng: random.Random, count: int) -> dict:
    """`count` sign-ups of each kind, in chunks of CHUNK of each shuffled together."""
    timings: dict[str, list[Timing]] = {kind: [] for kind in KINDS}
    for done in range(0, count, CHUNK):
        order = [kind for kind in KINDS for _ in range(min(CHUNK, count - done))]
        rng.shuffle(order)
        for kind in order:
            timings[kind].append(timed_sign_up(site.port, addresses.next(kind)))
    return timings


@dataclass(frozen=True)
class Comparison:
    """One known kind against new addresses, on one measure."""

    kind: str
    measure: str
    median_new: float
    median_known: float
    u: float
    p_u: float
    d: float
    p_d: float

    @property
    def told_apart(self) -> bool:
        level = ALPHA / 8
        gap = abs(self.median_known - self.median_new)
        return gap > MEDIAN_BOUND or self.p_u < level or self.p_d < level

    def __str__(self) -> str:
        return (
            f"{self.kind:>7} {self.measure:>8}: medians new {self.median_new * 1000:.2f} ms, "
            f"{self.kind} {self.median_known * 1000:.2f} ms; U {self.u:.0f} p {self.p_u:.3g}; "
            f"D {self.d:.3f} p {self.p_d:.3g}"
        )


def compare(timings: dict[str, list[Timing]]) -> list[Comparison]:
    """Every known kind against the new addresses, on both measures."""
    found = []
    for kind in ("pending", "active"):
        for measure in ("answered", "closed"):
            new = [getattr(t, measure) for t in timings["new"]]
            known = [getattr(t, measure) for t in timings[kind]]
            found.append(
                Comparison(
                    kind, measure, statistics.median(new), statistics.median(known),
                    *mann_whitney(new, known), *kolmogorov_smirnov(new, known),
                )  # fmt: skip
            )
    return found


def test_new_and_known_addresses_take_the_same_time_to_answer_and_to_close(
    site: LiveSite, smtp: SMTPServer
):
    addresses, rng = Addresses(), random.Random(8058)
    sample(site, addresses, rng, WARM_UP)
    report = []
    for round_number in (1, 2):
        comparisons = compare(sample(site, addresses, rng, SAMPLES))
        report += [f"round {round_number}:", *map(str, comparisons)]
        if not any(comparison.told_apart for comparison in comparisons):
            break
    else:
        raise AssertionError("new and known addresses can be told apart:\n" + "\n".join(report))
    print("\n".join(report))
    new_ones = addresses.count // 3 + KNOWN  # every new address still gets its mail
    assert len(smtp.handler.wait_for(new_ones, timeout=120)) == new_ones
