"""A self-hosted newsletter publisher: Markdown essays as web pages, feeds and email."""
