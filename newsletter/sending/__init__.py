"""Sending an essay to every confirmed reader exactly once: the ledger, the mailing plans
(`--new`, status), delivering one message (`deliver_one`), and the pool that runs many.

May import `subscribers`, `mail`, `content` and the root modules; never `web` or `cli`.
"""
