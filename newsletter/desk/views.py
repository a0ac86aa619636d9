"""The desk's pages, gathered: importing this module registers every view on the blueprint."""

from __future__ import annotations

from newsletter.desk import (  # noqa: F401  (importing registers the views)
    auth_views,
    essay_views,
    history_views,
    overview_views,
    passkey_views,
    reader_views,
    welcome_views,
)
from newsletter.desk import models as _models  # noqa: F401  (registers the tables)
from newsletter.desk.blueprint import init_app

__all__ = ["init_app"]
