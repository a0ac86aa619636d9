"""Post files to `Post` values or problems, many at a time: a large cold start uses every core.

Parsing is pure-Python CPU work (PyYAML's constructor above all): 10,000 essays take about 2 s
of one core. When a scan has many files to parse (a cold start with no posts cache), they are
cut into chunks that this process and one helper process per other core share: this process
parses chunks from the end while the helpers take them from the start, and the values come back
pickled, as the posts cache stores them. Fewer files, one core, or a helper that cannot start or
fails: its chunks are parsed here, to the same values.

The helpers are `python -m newsletter.content.parsing`, not a `multiprocessing` pool: a spawned
pool re-imports the server's main script in every child (running whatever it does outside an
`if __name__ == "__main__"` guard), and a forked one copies a threaded server's locks in
whatever state they were.
"""

from __future__ import annotations

import logging
import os
import pickle
import subprocess
import sys
import threading
import time
from collections import deque
from datetime import tzinfo
from pathlib import Path

from newsletter.content.frontmatter import PostError, PostProblem
from newsletter.content.postfiles import read_post_bytes
from newsletter.content.posts import Post, parse_post

log = logging.getLogger(__name__)

# A helper costs about 0.1 s to start; 2,000 files take 0.3 s of one core.
PARALLEL_FROM = 2000
CHUNK = 250  # files per task: small enough that the last task ends soon after the others
PATIENCE = 60.0  # seconds a helper may still take once this process has parsed its share

Parsed = Post | PostProblem


def parse_file(path: Path, posts_dir: Path, timezone: tzinfo) -> Parsed:
    """One file's `Post`, or the problem that keeps it off the site; never raises, since one
    file must never take the site down, whatever it holds."""
    try:
        return parse_post(path, read_post_bytes(path, posts_dir), timezone)
    except PostError as error:
        return PostProblem(path, str(error))
    except Exception as error:  # logged once, with the other problems, by the library
        return PostProblem(
            path, f"Post file {path}: it could not be read ({type(error).__name__}: {error})."
        )


def parse_chunk(paths: list[Path], posts_dir: Path, timezone: tzinfo) -> list[Parsed]:
    """Several files, in order (a helper's task, or the whole job on one core)."""
    return [parse_file(path, posts_dir, timezone) for path in paths]


def parse_files(
    paths: list[Path], posts_dir: Path, timezone: tzinfo, parallel_from: int = PARALLEL_FROM
) -> list[Parsed]:
    """Every file parsed, in order; with helper processes when there are many."""
    helpers = min(_cores() - 1, len(paths) // CHUNK - 1)
    if len(paths) < parallel_from or helpers < 1:
        return parse_chunk(paths, posts_dir, timezone)
    chunks = [paths[start : start + CHUNK] for start in range(0, len(paths), CHUNK)]
    done: list[list[Parsed] | None] = [None] * len(chunks)
    _share(chunks, done, posts_dir, timezone, helpers)
    return [
        item
        for chunk, values in zip(chunks, done, strict=True)
        for item in (values if values is not None else parse_chunk(chunk, posts_dir, timezone))
    ]


def _share(chunks: list, done: list, posts_dir: Path, timezone: tzinfo, helpers: int) -> None:
    """Fill `done` with the chunks' values, here and in the helpers; a chunk a helper failed
    stays None (the caller parses it)."""
    todo = deque(range(len(chunks)))  # helpers take from the left, this process from the right
    processes = [process for process in (_start_helper() for _ in range(helpers)) if process]
    shared = (todo, chunks, done, posts_dir, timezone)
    fed = [
        (process, threading.Thread(target=_feed, args=(process, *shared), daemon=True))
        for process in processes
    ]
    try:
        for _, thread in fed:
            thread.start()
        while todo:
            try:
                index = todo.pop()
            except IndexError:  # a helper took the last one
                break
            done[index] = parse_chunk(chunks[index], posts_dir, timezone)
        deadline = time.monotonic() + PATIENCE
        for _, thread in fed:
            thread.join(max(0.0, deadline - time.monotonic()))
    finally:
        for process, thread in fed:
            _finish(process, thread)


def _finish(process: subprocess.Popen, thread: threading.Thread) -> None:
    """End a helper: it has ended on its own once fed; one still busy after PATIENCE (its
    chunk is parsed here), or never fed, is killed."""
    if thread.is_alive() or thread.ident is None:
        process.kill()
        if thread.ident is not None:
            thread.join()  # its read or write fails at once now
    for pipe in (process.stdin, process.stdout):
        try:
            pipe.close()
        except OSError:
            pass  # closed with the helper already gone
    process.wait()


def _cores() -> int:
    """The CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _start_helper() -> subprocess.Popen | None:
    """A helper process reading chunks on its stdin; None when it cannot start."""
    package_root = str(Path(__file__).resolve().parents[2])  # where `newsletter` is importable
    path = os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))
    try:
        return subprocess.Popen(
            [sys.executable, "-P", "-m", __name__],  # -P: nothing from the current folder
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": path},
        )
    except OSError as error:
        log.warning("No helper process could start to parse the posts (%s); parsing here.", error)
        return None


def _feed(process: subprocess.Popen, todo: deque, chunks, done, posts_dir, timezone) -> None:
    """Give one helper chunks from the left of `todo` until none is left, then let it end."""
    try:
        while True:
            try:
                index = todo.popleft()
            except IndexError:
                return
            pickle.dump((chunks[index], posts_dir, timezone), process.stdin)
            process.stdin.flush()
            done[index] = pickle.load(process.stdout)  # our own child's answer
    except Exception as error:  # whatever it was, the chunk is parsed here
        log.warning("A helper process stopped parsing posts (%s); parsing its share here.", error)
    finally:
        try:
            process.stdin.close()  # the helper's signal to end
        except OSError:
            pass  # it has ended already (_finish tries again)


def serve_helper() -> None:
    """A helper's loop: a pickled chunk in on stdin, its parsed values out on stdout."""
    commands, answers = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must not break the answers
    while True:
        try:
            paths, posts_dir, timezone = pickle.load(commands)
        except EOFError:
            return
        pickle.dump(parse_chunk(paths, posts_dir, timezone), answers)
        answers.flush()


if __name__ == "__main__":
    serve_helper()
