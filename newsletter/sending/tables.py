"""The tables the sending stack's SQL statements name, as SQLAlchemy Core tables: one name per
table, defined once for the ledger, its counts, the checks and the queued runs."""

from __future__ import annotations

from newsletter.sending.models import Delivery, Mailing, SendBatch, SendRun
from newsletter.subscribers.models import Subscriber

deliveries = Delivery.__table__
mailings = Mailing.__table__
subscribers = Subscriber.__table__
runs = SendRun.__table__
batches = SendBatch.__table__
