"""The task queue a send runs on when `BROKER_URL` is set: Dramatiq, on Redis or RabbitMQ.

`flask send` puts one message per batch on the queue (`enqueue`); `flask worker` runs
Dramatiq's own `Worker` in a process that built the app, so jobs see the app's configuration.
A job runs one pass of `jobs.run_batch`; another pass after temporary failures is Dramatiq's
retry with a delay (SEND_RETRY_DELAY, doubling), and a job a dead worker never acknowledged is
handed to another worker (RabbitMQ at once; Redis once the dead worker's heartbeat is older
than `BROKER_HEARTBEAT_SECONDS`). Imported only by the send and worker commands.
"""

from __future__ import annotations

import threading
from urllib.parse import urlsplit

import dramatiq
from dramatiq.middleware import CurrentMessage
from flask import Flask

from newsletter.extensions import db
from newsletter.mail.backend import transport_factory
from newsletter.sending import jobs
from newsletter.sending.ratelimit import GlobalRate

ACTOR = "newsletter_send_batch"
QUEUE = "newsletter_send"
MAX_RETRIES = 50  # passes after temporary failures, and after crashes (a database outage)
TIME_LIMIT_MS = 24 * 3600 * 1000  # a batch at one message a second still fits
POLL_MS = 50  # a worker whose threads are all busy looks for the next batch this often: a
# thread that ends its batch waits up to this long for the next one (200 ms cost 4 % of a
# 100-reader batch at a 20 ms relay, measured in bench/send.py)


def make_broker(app: Flask) -> dramatiq.Broker:
    """The broker `BROKER_URL` names: redis://... or amqp://..."""
    url = app.config["BROKER_URL"]
    scheme = urlsplit(url).scheme
    if scheme in ("redis", "rediss", "unix"):
        from dramatiq.brokers.redis import RedisBroker

        heartbeat = float(app.config["BROKER_HEARTBEAT_SECONDS"])
        broker = RedisBroker(
            url=url,
            namespace=app.config["BROKER_NAMESPACE"],
            heartbeat_timeout=int(heartbeat * 1000),
            # Requeueing a dead worker's messages runs on a share of fetches; a short
            # heartbeat (tests, small sites) wants it often.
            maintenance_chance=1_000_000 if heartbeat < 10 else 1000,
        )
    elif scheme in ("amqp", "amqps"):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        broker = RabbitmqBroker(url=url)
    else:
        raise ValueError(f"BROKER_URL {url!r}: use redis://... or amqp://...")
    broker.add_middleware(CurrentMessage())
    return broker


class SendQueue:
    """The broker, the batch actor, and (in a worker) one transport per thread."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.broker = make_broker(app)
        self.stop = threading.Event()
        self.local = threading.local()
        self.rate: GlobalRate | None = None
        self.actor = dramatiq.Actor(
            self.perform, broker=self.broker, actor_name=ACTOR, queue_name=QUEUE, priority=0,
            options={"max_retries": MAX_RETRIES, "time_limit": TIME_LIMIT_MS},
        )  # fmt: skip

    def enqueue(self, batch_ids: list[int]) -> None:
        """One message per batch."""
        for batch_id in batch_ids:
            self.actor.send(batch_id)

    def perform(self, batch_id: int) -> None:
        """The actor: one pass over one batch; raise Retry for another pass later."""
        message = CurrentMessage.get_current_message()
        attempt = int(message.options.get("retries", 0)) if message else 0
        with self.app.app_context():
            worker = self._worker()
            outcome = jobs.run_batch(worker, batch_id, attempt)
        if outcome is jobs.Pass.AGAIN:
            raise dramatiq.Retry("temporary failures", jobs.retry_delay_ms(worker.options, attempt))
        if outcome is jobs.Pass.STOPPED:
            raise dramatiq.Retry("worker stopping", 0)

    def _worker(self) -> jobs.Worker:
        """This thread's transport and the process's shared parts (inside an app context)."""
        worker = getattr(self.local, "worker", None)
        if worker is None:
            from newsletter.sending.mailing import send_options

            options = send_options()
            transport, rate = transport_factory()(), self.global_rate(options)
            if rate is not None:
                transport = jobs.PacedTransport(transport, rate, self.stop)
            worker = jobs.Worker(db.engine, transport, options, rate, self.stop)
            self.local.worker = worker
        return worker

    def global_rate(self, options) -> GlobalRate | None:
        """The shared rate (and slow-down) store, or None when nothing needs one."""
        if self.rate is None:
            config = self.app.config
            uri = config.get("SEND_RATE_STORAGE_URI") or config["BROKER_URL"]
            if urlsplit(uri).scheme not in ("redis", "rediss", "unix"):
                if options.max_per_second:
                    raise RuntimeError(
                        "MAIL_MAX_PER_SECOND needs SEND_RATE_STORAGE_URI=redis://... "
                        "when BROKER_URL is not Redis."
                    )
                return None
            self.rate = GlobalRate(
                uri, options.max_per_second, namespace=f"{config['BROKER_NAMESPACE']}:rate",
                pause_seconds=float(config["SEND_SLOWDOWN_SECONDS"]), stop=self.stop,
            )  # fmt: skip
        return self.rate


def send_queue(app: Flask) -> SendQueue:
    """The app's queue (built once per process)."""
    queue = app.extensions.get("send_queue")
    if queue is None:
        queue = app.extensions["send_queue"] = SendQueue(app)
    return queue


def run_worker(app: Flask, threads: int, stopped: threading.Event) -> None:
    """Run Dramatiq's worker on the send queue until `stopped` is set, then stop it cleanly:
    jobs in progress end their current message and go back on the queue."""
    queue = send_queue(app)
    worker = dramatiq.Worker(
        queue.broker, queues={QUEUE}, worker_threads=threads, worker_timeout=POLL_MS
    )
    worker.queue_prefetch = threads  # a worker holds no more batches than it runs
    worker.start()
    try:
        stopped.wait()
    finally:
        queue.stop.set()
        worker.stop(timeout=int(float(app.config["SEND_TIMEOUT"]) * 2000) + 5000)
