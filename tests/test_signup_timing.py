"""A stranger cannot tell a new address from a known one by the time the sign-up takes, and a
mail server that hangs slows no page: both measured on the production server (`make serve`,
two workers, SQLite), each request on a new connection, with `time.perf_counter`.

Sign-ups: a round posts the form SAMPLES times for each kind of address (new, pending, active)
after a warm-up that is not counted, all in one shuffled order: a burst of load from another
process falls on every kind alike, and the kind of a sign-up says nothing of the kind before it
(a new address's mail goes out in the background right after its answer and slows whatever
request comes next, which blocks or alternation would pin on the known kinds; the test also
waits for each new address's mail to arrive before the next request). For
each known kind against the new one and each measure (time to the answer's last byte, time to
the server's close), the round tells the kinds apart when the shift between them (the
Hodges-Lehmann estimate) exceeds SHIFT_BOUND, or when a two-sided Mann-Whitney U test or a
two-sample Kolmogorov-Smirnov test rejects at ALPHA / 8 (Bonferroni over the 8 tests: the
round's family-wise level is ALPHA). A round that tells them apart is repeated on a fresh
sample before the test fails, so a slow moment of the shared machine must show twice.

GET /: GETS requests while both workers' couriers wait on a server that never answers, against
GETS // 2 before and GETS // 2 after (the idle sample brackets the hung one, so a slow drift of
the machine cancels). The shift may be at most GET_BOUND, and a one-sided Mann-Whitney test may
not show GET / slower by more than GET_MARGIN at HANG_ALPHA; a second round before failing.
"""

from __future__ import annotations

import random
import sqlite3
import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import HangingMailServer, SMTPServer, free_port, prepared_site
from e2e.live import LiveSite, wait_until
from timed_http import Timing, timed_get, timed_sign_up
from twosample import kolmogorov_smirnov, mann_whitney, shift

SAMPLES = 200  # per kind and round
WARM_UP = 20  # sign-ups of each kind first, not counted
KNOWN = 20  # addresses of each known kind, cycled through
ALPHA = 0.01  # family-wise level of one round's eight tests
SHIFT_BOUND = 0.0015  # seconds: a larger shift between two kinds tells them apart
KINDS = ("new", "pending", "active")
GETS = 200  # GET / while mail hangs, and as many around it with none, per round
GET_BOUND = 0.001  # seconds: GET / may not get slower than this while mail hangs
GET_MARGIN = 0.0005  # seconds: a slowdown below this is not tested for (cache effects)
HANG_ALPHA = 0.001  # level of the one-sided test on GET / (phases, not interleaved: stricter)


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
    assert abs(shift(shifted, same[:200]) - 0.001) < 0.0005
    assert mann_whitney(shifted, same[:200], alternative="greater")[1] < 0.001
    assert mann_whitney(same[:200], shifted, alternative="greater")[1] > 0.99


# --- the site under test ----------------------------------------------------------------------


@pytest.fixture
def site(tmp_path: Path, smtp: SMTPServer) -> Iterator[LiveSite]:
    """The site under `make serve` with two workers, with pending and active readers."""
    with prepared_site(tmp_path, smtp.port) as live:
        live.env.update(FLASK_SIGNUP_RATE_LIMIT="100000 per minute")
        live.start()
        live.add_subscribers(*(f"active-{n}@example.org" for n in range(KNOWN)))
        for n in range(KNOWN):
            timed_sign_up(live.port, f"pending-{n}@example.org")
        smtp.handler.wait_for(KNOWN, timeout=60)  # their mail went out: they will get no other
        yield live


class Addresses:
    """The next address of each kind: new ones never seen before, known ones cycled."""

    def __init__(self) -> None:
        self.count = 0
        self.mailed = KNOWN  # confirmation mails so far: the pending readers' first

    def next(self, kind: str) -> str:
        self.count += 1
        if kind == "new":
            return f"new-{self.count}@example.org"
        return f"{kind}-{self.count % KNOWN}@example.org"


def sample(site: LiveSite, smtp: SMTPServer, addresses: Addresses, rng: random.Random, count: int):
    """`count` sign-ups of each kind in one shuffled order; after a new address the next
    request waits for its mail to arrive (a condition, not a sleep)."""
    timings: dict[str, list[Timing]] = {kind: [] for kind in KINDS}
    order = [kind for kind in KINDS for _ in range(count)]
    rng.shuffle(order)  # the kind before a sign-up says nothing of its own kind
    for kind in order:
        timings[kind].append(timed_sign_up(site.port, addresses.next(kind)))
        if kind == "new":
            addresses.mailed += 1
            arrived = smtp.handler.wait_for(addresses.mailed, timeout=30)
            assert len(arrived) == addresses.mailed, "a new reader's mail did not arrive"
    return timings


@dataclass(frozen=True)
class Comparison:
    """One known kind against new addresses, on one measure."""

    kind: str
    measure: str
    median_new: float
    median_known: float
    shift: float  # how much slower the known kind is (Hodges-Lehmann)
    u: float
    p_u: float
    d: float
    p_d: float

    @property
    def told_apart(self) -> bool:
        level = ALPHA / 8
        return abs(self.shift) > SHIFT_BOUND or self.p_u < level or self.p_d < level

    def __str__(self) -> str:
        return (
            f"{self.kind:>7} {self.measure:>8}: medians new {self.median_new * 1000:.2f} ms, "
            f"{self.kind} {self.median_known * 1000:.2f} ms, shift {self.shift * 1000:+.2f} ms; "
            f"U {self.u:.0f} p {self.p_u:.3g}; "
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
                    kind,
                    measure,
                    statistics.median(new),
                    statistics.median(known),
                    shift(known, new),
                    *mann_whitney(new, known),
                    *kolmogorov_smirnov(new, known),
                )  # fmt: skip
            )
    return found


def test_new_and_known_addresses_take_the_same_time_to_answer_and_to_close(
    site: LiveSite, smtp: SMTPServer
):
    addresses, rng = Addresses(), random.Random(8058)
    sample(site, smtp, addresses, rng, WARM_UP)
    report = []
    for round_number in (1, 2):
        comparisons = compare(sample(site, smtp, addresses, rng, SAMPLES))
        report += [f"round {round_number}:", *map(str, comparisons)]
        if not any(comparison.told_apart for comparison in comparisons):
            break
    else:
        raise AssertionError("new and known addresses can be told apart:\n" + "\n".join(report))
    print("\n".join(report))
    new_ones = addresses.count // 3 + KNOWN  # every new address still gets its mail
    assert len(smtp.handler.wait_for(new_ones, timeout=120)) == new_ones


# --- a mail server that hangs slows no page -----------------------------------------------------


@pytest.fixture
def hanging() -> Iterator[HangingMailServer]:
    server = HangingMailServer()
    yield server
    server.close()


@pytest.fixture
def hung_site(tmp_path: Path, hanging: HangingMailServer) -> Iterator[LiveSite]:
    """The site under `make serve`, its mail server hanging for longer than the test lasts; a
    mail whose server went away is retried only after an hour."""
    live = LiveSite(tmp_path, free_port(), smtp_port=hanging.port)
    live.prepare()
    live.env.update(
        FLASK_SIGNUP_RATE_LIMIT="100000 per minute",
        FLASK_SEND_TIMEOUT="300",
        FLASK_SEND_RETRY_DELAY="3600",
    )
    live.start()
    yield live
    live.stop()


def hang_both_workers(site: LiveSite, hanging: HangingMailServer, first: int) -> int:
    """Sign up new addresses until each worker's courier waits on the hanging server; the
    number of sign-ups it took."""
    for n in range(40):
        assert timed_sign_up(site.port, f"hung-{first + n}@example.org").answered < 5
        if hanging.wait_held(site.workers, timeout=1.0):
            return n + 1
    raise AssertionError(f"the couriers of {site.workers} workers never reached the mail server")


def sending_rows(site: LiveSite) -> int:
    """Queued mails a courier holds (status `sending`), read from the site's SQLite file."""
    database = sqlite3.connect(f"file:{site.root / 'newsletter.sqlite3'}?mode=ro", uri=True)
    try:
        query = "SELECT count(*) FROM outgoing_mail WHERE status = 'sending'"
        return database.execute(query).fetchone()[0]
    finally:
        database.close()


def test_a_hanging_mail_server_does_not_slow_the_home_page(
    hung_site: LiveSite, hanging: HangingMailServer
):
    for _ in range(30):  # warm-up: both workers, the page cache
        timed_get(hung_site.port)
    report, signed_up = [], 0
    for round_number in (1, 2):
        before = [timed_get(hung_site.port) for _ in range(GETS // 2)]
        hanging.hold()
        signed_up += hang_both_workers(hung_site, hanging, signed_up)
        during = [timed_get(hung_site.port) for _ in range(GETS)]
        assert len(hanging.held) >= hung_site.workers, "a courier stopped waiting during the test"
        hanging.release()
        wait_until(lambda: sending_rows(hung_site) == 0, what="the couriers to let go")
        idle = before + [timed_get(hung_site.port) for _ in range(GETS // 2)]
        # Slower by more than GET_MARGIN? (H0: by at most that much.)
        u, p = mann_whitney([t - GET_MARGIN for t in during], idle, alternative="greater")
        slower = shift(during, idle)
        report.append(
            f"round {round_number}: GET / median {statistics.median(idle) * 1000:.3f} ms idle, "
            f"{statistics.median(during) * 1000:.3f} ms with the mail server hanging "
            f"(n = {len(idle)} and {len(during)}), shift {slower * 1000:+.3f} ms; "
            f"U {u:.0f}, one-sided p {p:.3g}"
        )
        if slower <= GET_BOUND and p >= HANG_ALPHA:
            break
    else:
        raise AssertionError("GET / is slower while mail hangs:\n" + "\n".join(report))
    print("\n".join(report))
