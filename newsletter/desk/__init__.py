"""The author's desk: a signed-in web dashboard over the same domain functions as the CLI
(readers, essays, previews, sends and their history). Its own blueprint; login everywhere.

On top, beside web and cli: may import every stage below; nothing imports it but app.py.
"""
