"""Web: the reader-facing pages and feeds, the sign-up views and form, the page cache and the
security headers. Views are thin: they call the stages below and render.

On top: may import every stage below; nothing below imports it.
"""
