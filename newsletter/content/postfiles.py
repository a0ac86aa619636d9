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
    try:
        # O_NOFOLLOW: a plain file costs one open, fstat and read (a cold start reads thousands);
        # only a symbolic link, refused here with ELOOP, is resolved and checked.
        descriptor = _open(path, os.O_NOFOLLOW)
    except OSError as error:
        if error.errno != errno.ELOOP:
            raise _unreadable(path, error) from None
        _check_link(path, posts_dir)
        try:
            descriptor = _open(path, 0)
        except OSError as error:
            raise _unreadable(path, error) from None
    try:
        _check_regular(path, os.fstat(descriptor))
    except PostError:
        os.close(descriptor)
        raise
    with os.fdopen(descriptor, "rb") as file:
        return file.read(MAX_POST_BYTES + 1)


def _check_regular(path: Path, info: os.stat_result) -> None:
    """Only a regular file of a bounded size is read (a folder is refused before fdopen,
    which would raise IsADirectoryError)."""
    if not stat.S_ISREG(info.st_mode):
        raise PostError(
            path,
            "it is not a regular file (a pipe, device or folder). Remove it from the posts folder.",
        )
    if info.st_size > MAX_POST_BYTES:
        raise PostError(
            path,
            f"it is larger than {MAX_POST_BYTES // 1024} KB "
            f"({info.st_size // 1024} KB). Split it into several essays.",
        )


def _open(path: Path, flags: int) -> int:
    """A read-only descriptor; O_NONBLOCK so that opening a FIFO never waits for a writer
    (fstat then refuses it)."""
    return os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | flags)


def _unreadable(path: Path, error: OSError) -> PostError:
    """The sentence for a file that vanished or could not be opened."""
    if error.errno == errno.ENOENT:
        return PostError(path, "it was deleted while being read.")
    return PostError(path, f"it could not be read ({error.strerror}).")


def _check_link(path: Path, posts_dir: Path) -> None:
    """A symbolic link is served only when it leads to a file inside the posts folder."""
    if not _resolve(path).is_relative_to(posts_dir.resolve()):
        raise PostError(
            path,
            "it is a symbolic link to a file outside the posts folder. "
            "Copy the file into the folder instead.",
        )


def _resolve(path: Path) -> Path:
    """Where a path really leads; a dangling or looping symlink is a named problem."""
    try:
        return path.resolve(strict=True)
    except FileNotFoundError as error:
        if path.is_symlink():
            target = os.readlink(path)
            raise PostError(
                path,
                f"it is a symbolic link to {target}, which does not exist. Fix or remove the link.",
            ) from None
        raise _unreadable(path, error) from None
    except (RuntimeError, OSError) as error:
        if isinstance(error, RuntimeError) or error.errno == errno.ELOOP:
            raise PostError(
                path, "it is a symbolic link that loops back on itself. Remove the link."
            ) from None
        raise _unreadable(path, error) from None
