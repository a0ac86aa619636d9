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

import yaml

from newsletter.content.frontmatter import PostProblem
from newsletter.content.posts import Post
from newsletter.content.rendered import RENDERER_VERSION

log = logging.getLogger(__name__)

FORMAT = 2


def cache_key(posts_dir: Path, timezone: object) -> str:
    """What the cached values depend on: the folder, the time zone, PyYAML, the renderer
    version and our code."""
    here = Path(__file__).parent
    modules = (
        "posts.py",
        "frontmatter.py",
        "yamlbounds.py",
        "postfiles.py",
        "parsing.py",
        "library.py",
        "postcache.py",
    )
    code = b"".join((here / name).read_bytes() for name in modules)
    digest = hashlib.sha1(code).hexdigest()
    return f"{FORMAT}:{posts_dir}:{timezone}:{yaml.__version__}:{RENDERER_VERSION}:{digest}"


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
    if saved_key != key or not isinstance(files, dict) or not all(map(_entry_ok, files.items())):
        return {}
    return files


def _entry_ok(entry: Any) -> bool:
    """One cached file: (path, ((mtime, ctime, size, inode), Post or PostProblem))."""
    path, value = entry
    return (
        isinstance(path, str)
        and isinstance(value, tuple)
        and len(value) == 2
        and isinstance(value[0], tuple)
        and len(value[0]) == 4
        and isinstance(value[1], Post | PostProblem)
    )


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
