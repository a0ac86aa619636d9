"""The author's `flask` commands (posts, subscribers, send, preview). Thin: each calls one domain
function and prints its result.

On top: may import every stage below; nothing below imports it.
"""
