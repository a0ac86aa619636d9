# Copy this file to instance/config.py and edit it. instance/ is git-ignored: secrets stay here.
# Every key can also be set as an environment variable with a FLASK_ prefix
# (FLASK_SITE_URL=https://essays.example.org); see the configuration table in README.md.

# Required in production; the app refuses to start with a placeholder. Make one with:
#   python -c 'import secrets; print(secrets.token_hex(32))'
# SECRET_KEY = "paste it here"

SITE_URL = "https://essays.example.org"
SITE_TITLE = "A Weekly Essay"
SITE_DESCRIPTION = "An essay every week, on the web, in your feed reader and by email."
AUTHOR_NAME = "Your Name"
AUTHOR_EMAIL = "you@example.org"
TIMEZONE = "Europe/Berlin"
# AUTHOR_BIO = "A sentence or two about you, under each essay and on the home page."
# SITE_IMAGE = "/images/share.png"  # the picture a shared link shows (og:image)

# Who may sign in to the desk at /desk/ (default: AUTHOR_EMAIL):
# ADMIN_EMAILS = ["you@example.org"]

# PostgreSQL instead of the default SQLite file in instance/:
# DATABASE_URL = "postgresql+psycopg://newsletter@localhost/newsletter"

# SMTP; without MAIL_SERVER, mail is written to instance/outbox/ instead.
# MAIL_SERVER = "smtp.example.org"
# MAIL_PORT = 587
# MAIL_USE_TLS = True
# MAIL_USERNAME = "newsletter@example.org"
# MAIL_PASSWORD = "..."
# MAIL_DEFAULT_SENDER = "newsletter@example.org"

# Several server workers share rate limits through Redis:
# RATELIMIT_STORAGE_URI = "redis://127.0.0.1:6379/0"

# Sends on a task queue, delivered by `flask worker` processes (unset: `flask send` sends itself):
# BROKER_URL = "redis://127.0.0.1:6379/1"
