"""The parsed front matter of every post file, kept on disk between restarts.

A cold start parses every file (about 0.2 ms each); after a deploy or a restart the files are
mostly unchanged, so the library starts from this cache and parses only what changed since.
The cache is only ever a shortcut: anything unexpected in it and it is ignored.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
from pathlib import Path
from typing import Any

from . import frontmatter, posts

log = logging.getLogger(__name__)

FORMAT = 1


def cache_key(posts_dir: Path, timezone: object) -> str:
    """What the cached values depend on: the folder, the time zone and the parser's code."""
    code = b"".join(Path(module.__file__).read_bytes() for module in (posts, frontmatter))
    return f"{FORMAT}:{posts_dir}:{timezone}:{hashlib.sha1(code).hexdigest()}"


def load(path: Path, key: str) -> dict[str, Any]:
    """The cached files for `key` ({path: (version, Post or PostProblem)}), or nothing."""
    try:
        with path.open("rb") as file:
            saved_key, files = pickle.load(file)  # written by this app only, in instance/
    except FileNotFoundError:
        return {}
    except Exception as error:  # a torn or foreign file: start from scratch
        log.info("Ignoring the posts cache %s (%s).", path, error)
        return {}
    return files if saved_key == key and isinstance(files, dict) else {}


def save(path: Path, key: str, files: dict[str, Any]) -> None:
    """Write the cache atomically, so another worker never reads half a file."""
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        with temporary.open("wb") as file:
            pickle.dump((key, files), file, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, path)
    except OSError as error:
        log.warning("Could not write the posts cache %s (%s); starts stay slower.", path, error)
        temporary.unlink(missing_ok=True)
