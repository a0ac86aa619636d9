"""Flask's "lazily loading views": a URL's function imported by the first request that reaches it.

The sign-up views and the desk's views are registered this way, so a worker that serves only
pages and feeds never imports the database layer, the desk's queries or webauthn behind them,
while `url_for` works from the start (the rules themselves are registered at import).
"""

from __future__ import annotations

from werkzeug.utils import cached_property, import_string


class LazyView:
    """A view function, imported on its first call."""

    def __init__(self, import_name: str) -> None:
        # The real function's names, which Flask-WTF and Flask-Limiter key their marks on.
        self.__module__, self.__name__ = import_name.rsplit(".", 1)
        self.__qualname__ = self.__name__
        self.import_name = import_name

    @cached_property
    def view(self):
        """The function itself."""
        return import_string(self.import_name)

    def __call__(self, *args, **kwargs):
        return self.view(*args, **kwargs)
