"""One sending rate for every worker on every machine, kept in Redis.

`MAIL_MAX_PER_SECOND` is handed out as evenly spaced slots: before each message a worker asks
Redis (one Lua call, timed by Redis's own clock, so the machines' clocks never matter) for the
next free slot, 1/rate after the previous one, and waits for it. Any one-second window then
holds at most the limit (one more at its edge), however many workers share it.

What a relay counts is the end of DATA, so that is what the rate keeps to, in two steps.
`reserve()`, before MAIL FROM, waits out any pause, reserves the next slot and waits until
`LEAD_SECONDS` before it; MAIL FROM and RCPT TO go out in that lead. `go()`, right before DATA,
waits for the slot itself, and then, while the last second's actual sends (a sorted set, on
Redis's clock) already hold the rate, until the oldest leaves it: the slots keep the sends
evenly spaced, the window keeps messages that came late to their slots from crowding one
second. The wait inside the open transaction is the rest of the lead (at most a second with
the window full), far below a server's timeouts (minutes).

Why, measured per message at 200/s with 16 connections (bench/send.py's rate run, traced):
with the slot waited for before MAIL FROM, as first built, the slots left Redis 5 ms apart but
reached the sink's end of DATA 5 ms late at the median, 39 ms at the 99th percentile and up to
120 ms (a thread woken late, and the MAIL, RCPT and DATA round trips to a busy server, about
10 ms each at the 99th percentile): 206-211 arrived within one second. Waiting right before
DATA alone still let a quarter of the messages reach it after their slot (a slot is reserved
only some 40 ms ahead), and they went at once: 205 at the DATA command. With the window, the
DATA commands hold 202; what the sink adds after them (its 354 and its reading of the message,
on a busy 2-core machine) is the sink's. A moving window alone (the `limits` package) was
tried first: it lets a whole second's quota out at once, and two such bursts one second apart,
each delayed differently on its way to the server, arrived as 30 messages within one second at
a limit of 25 (measured in tests/test_queue_workers.py).

A "slow down" reply (421 or 454) heard by any worker pauses all of them for
`SEND_SLOWDOWN_SECONDS` and halves the shared rate (again on the next burst, down to one a
second); the rate comes back once `RECOVER_SECONDS` pass without one.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable

from newsletter.mail.transport import ConnectFailure

log = logging.getLogger(__name__)

SLOW_DOWN_CODES = ("421", "454")
RECOVER_SECONDS = 60
MAX_HALVINGS = 8
REDIS_TIMEOUT = 5.0  # seconds a Redis command may take before the message is retried later
REDIS_RETRIES = 2
LEAD_SECONDS = 0.1  # reserve() returns this long before the slot: time for MAIL FROM and RCPT TO


def _rate_and_now(halvings_key: str, max_halvings_arg: str) -> str:
    """The Lua both scripts start with: the rate in force (ARGV[1] halved as often as the
    halvings key says, 0 for no limit) and Redis's own clock, in microseconds."""
    return f"""
local per_second = tonumber(ARGV[1])
if per_second <= 0 then return 0 end
local halvings = math.min(tonumber(redis.call('GET', {halvings_key}) or '0'),
                          tonumber({max_halvings_arg}))
local rate = math.max(1, math.floor(per_second / (2 ^ halvings)))
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
"""


# KEYS: next slot, halvings, pause. ARGV: messages per second (0: no limit).
# Returns the microseconds to wait: for the reserved slot, or (negative) out of a pause.
_TAKE_SLOT = (
    """
local pause = redis.call('PTTL', KEYS[3])
if pause > 0 then return -pause * 1000 end
"""
    + _rate_and_now("KEYS[2]", "ARGV[2]")
    + """local slot = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0'))
redis.call('SET', KEYS[1], string.format('%d', slot + math.floor(1000000 / rate)), 'PX', 60000)
return slot - now
"""
)

# KEYS: halvings, the last second's sends (a sorted set). ARGV: messages per second, a member.
# Records a send and returns 0 when the last second holds fewer than the rate in force; else
# the microseconds until its oldest send leaves the window.
_GO = (
    _rate_and_now("KEYS[1]", "ARGV[3]")
    + """redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - 1000000)
if redis.call('ZCARD', KEYS[2]) < rate then
  redis.call('ZADD', KEYS[2], now, ARGV[2])
  redis.call('PEXPIRE', KEYS[2], 2000)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + 1000000 - now)
"""
)


def is_slow_down(reply: str) -> bool:
    """A reply that asks the sender to slow down, rather than refusing this one message."""
    return reply[:3] in SLOW_DOWN_CODES


class RateUnavailable(ConnectFailure):
    """Redis, which holds the shared rate, did not answer before MAIL FROM: nothing was sent.
    Counted as out of reach: the reader is retried, and a pass stops after SEND_MAX_ATTEMPTS
    of them in a row, as with a mail server that cannot be reached."""


class GlobalRate:
    """The shared rate: `wait()` before each message, `slow_down()` when the server asks."""

    def __init__(
        self,
        uri: str,
        per_second: float,
        *,
        namespace: str = "newsletter:send",
        pause_seconds: float = 1.0,
        stop: threading.Event | None = None,
    ) -> None:
        import redis
        from redis.backoff import ExponentialBackoff
        from redis.retry import Retry

        self.per_second = int(per_second or 0)
        self.redis = redis.Redis.from_url(
            uri,
            socket_timeout=REDIS_TIMEOUT,
            socket_connect_timeout=REDIS_TIMEOUT,
            retry=Retry(ExponentialBackoff(), REDIS_RETRIES),  # the client's 10 would stall a send
        )
        self.take_slot = self.redis.register_script(_TAKE_SLOT)
        self.go_script = self.redis.register_script(_GO)
        self.keys = [f"{namespace}:next", f"{namespace}:halvings", f"{namespace}:pause"]
        self.window_key = f"{namespace}:window"
        self.pause_ms = max(1, int(pause_seconds * 1000))
        self.stop = stop or threading.Event()

    def current(self) -> int:
        """The rate in force now: the limit, halved once per recent slow-down burst."""
        halvings = int(self.redis.get(self.keys[1]) or 0)
        return max(1, self.per_second >> min(halvings, MAX_HALVINGS))

    def wait(self, sleep: Callable[[float], bool] | None = None) -> bool:
        """Wait for this message's slot (and out of any pause); False: told to stop."""
        sleep = sleep or self.stop.wait
        slot = self.reserve(sleep, lead=0.0)
        if slot is None:
            return False
        self.go(slot)
        return True

    def reserve(
        self, sleep: Callable[[float], bool] | None = None, lead: float = LEAD_SECONDS
    ) -> float | None:
        """Wait out any pause, reserve this message's slot and wait until `lead` seconds
        before it; the slot's `time.monotonic()`, or None: told to stop."""
        import redis

        sleep = sleep or self.stop.wait
        while True:
            asked = time.monotonic()  # Redis times the slot from within this call
            try:
                delay_us = int(self.take_slot(keys=self.keys, args=[self.per_second, MAX_HALVINGS]))
            except redis.RedisError as error:
                raise RateUnavailable(
                    f"The shared send rate could not be read from Redis ({error}); nothing was "
                    "sent, and a later pass retries this reader."
                ) from None
            if delay_us >= 0:
                break
            if sleep(-delay_us / 1e6):
                return None
        slot = asked + delay_us / 1e6
        early = slot - lead - time.monotonic()
        if early > 0 and sleep(early):
            return None
        return slot

    def go(self, slot: float) -> None:
        """Right before DATA: wait for the reserved slot, then, when messages that came late
        to their slots crowd the last second (the shared window of actual sends), until one
        leaves it. Never raises: with Redis gone the slot alone is kept."""
        import redis

        pace_until(slot)
        if not self.per_second:
            return
        member = uuid.uuid4().hex
        try:
            while wait_us := int(
                self.go_script(
                    keys=[self.keys[1], self.window_key],
                    args=[self.per_second, member, MAX_HALVINGS],
                )
            ):
                time.sleep(wait_us / 1e6)
        except redis.RedisError:
            return

    def slow_down(self) -> None:
        """Pause every worker; the first report of a burst also halves the shared rate. Never
        raises: with Redis gone the next `reserve()` says so for its own message."""
        import redis

        try:
            first = self.redis.set(self.keys[2], 1, px=self.pause_ms, nx=True)
            if first and self.per_second:
                pipe = self.redis.pipeline()
                pipe.incr(self.keys[1])
                pipe.expire(self.keys[1], RECOVER_SECONDS)
                pipe.execute()
        except redis.RedisError as error:
            log.warning("The server's slow-down could not be shared through Redis (%s).", error)


def pace_until(slot: float) -> None:
    """Sleep until `slot` (a `time.monotonic()`), if it has not come yet."""
    remaining = slot - time.monotonic()
    if remaining > 0:
        time.sleep(remaining)
