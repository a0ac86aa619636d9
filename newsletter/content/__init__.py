"""Content: post files to `Post` values.

Front matter (PyYAML, TOML) read within limits, Markdown rendered as Hugo renders it, HTML to
plain text, the date formatter, and the posts library (folder scan, snapshot, disk cache).
The ground floor: imports nothing from the other stages or the database (root `config` at most),
and knows nothing of HTTP requests or the database.
"""
