"""Give a fresh clone its own random SECRET_KEY in instance/config.py, written once by
`make run`, so the server and every `flask` command sign with the same key across restarts."""

from __future__ import annotations

import re
import secrets
import sys
from pathlib import Path

DEFINES_KEY = re.compile(r"^\s*SECRET_KEY\s*=", re.MULTILINE)


def ensure_secret_key(config_file: Path) -> bool:
    """Append a random SECRET_KEY to `config_file` unless it sets one; True when written."""
    text = config_file.read_text(encoding="utf-8") if config_file.exists() else ""
    if DEFINES_KEY.search(text):
        return False
    config_file.parent.mkdir(parents=True, exist_ok=True)
    separator = "" if not text or text.endswith("\n") else "\n"
    line = "# Written by `make run`: signs every link in every email; keep it secret.\n"
    line += f"SECRET_KEY = {secrets.token_hex(32)!r}\n"
    config_file.write_text(text + separator + line, encoding="utf-8")
    config_file.chmod(0o600)
    return True


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "instance/config.py")
    if ensure_secret_key(target):
        print(f"Wrote a random SECRET_KEY to {target}.")
