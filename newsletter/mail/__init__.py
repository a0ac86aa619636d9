"""Mail: the sender's identity and Message-IDs, the messages (confirmation, essay), the one
transport interface with its two transports (SMTP, the outbox folder) chosen once in
`backend.py`, and the outgoing-mail queue with its courier thread.

May import `content` and the root modules (config, extensions, links, columns); never
`subscribers`, `sending`, `web` or `cli`.
"""
