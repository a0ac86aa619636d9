"""Reading a post file's bytes safely: regular files of a bounded size, inside the folder.

The folder scan runs on the request path, so anything that could block (a FIFO, a device), loop
(symlinks pointing at each other) or take seconds (a multi-megabyte essay) is refused here with a
sentence naming the file, and the other essays are served as usual.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from newsletter.content.frontmatter import PostError

# A 2,000-word essay is about 12 KB; rendering grows faster than the size (5 MB took ~17 s),
# and a page must never wait that long on a first view. 512 KB renders in about a second.
MAX_POST_BYTES = 512 * 1024


def read_post_bytes(path: Path, posts_dir: Path) -> bytes:
    """The bytes of a post file, or a PostError saying why it cannot be read."""
    resolved = _resolve(path)
    if path.is_symlink() and not resolved.is_relative_to(posts_dir.resolve()):
        raise PostError(
            path,
            "it is a symbolic link to a file outside the posts folder. "
            "Copy the file into the folder instead.",
        )
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then refuses it.
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        raise PostError(path, f"it could not be read ({error.strerror}).") from None
    with os.fdopen(descriptor, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise PostError(
                path,
                "it is not a regular file (a pipe, device or folder). "
                "Remove it from the posts folder.",
            )
        if info.st_size > MAX_POST_BYTES:
            raise PostError(
                path,
                f"it is larger than {MAX_POST_BYTES // 1024} KB "
                f"({info.st_size // 1024} KB). Split it into several essays.",
            )
        return file.read(MAX_POST_BYTES + 1)


def _resolve(path: Path) -> Path:
    """Where a path really leads; a dangling or looping symlink is a named problem."""
    try:
        return path.resolve(strict=True)
    except FileNotFoundError:
        if path.is_symlink():
            target = os.readlink(path)
            raise PostError(
                path,
                f"it is a symbolic link to {target}, which does not exist. Fix or remove the link.",
            ) from None
        raise PostError(path, "it was deleted while being read.") from None
    except (RuntimeError, OSError) as error:
        if isinstance(error, RuntimeError) or error.errno == errno.ELOOP:
            raise PostError(
                path, "it is a symbolic link that loops back on itself. Remove the link."
            ) from None
        raise PostError(path, f"it could not be read ({error.strerror}).") from None
