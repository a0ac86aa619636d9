"""Generate realistic essay files for the benchmarks: ~2,000 words, front matter, links, lists."""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path

WORDS = (
    "the a of to and in that is it for on with as was this by be at from but not or have "
    "tools essay week small habit garden letter reader kettle desk morning quiet writing "
    "measure number weight craft attention patience software woodworker season question"
).split()


def paragraph(rng: random.Random, words: int) -> str:
    """One paragraph of plausible prose with an occasional inline link."""
    text = " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."
    if rng.random() < 0.3:
        text += " See [this page](https://example.org/notes/page.html) for more."
    return text


def essay(rng: random.Random, number: int, day: date) -> str:
    """One essay file shaped like POST_FORMAT.md: quoted title, bare date, weight, rules."""
    blocks = [paragraph(rng, rng.randint(60, 120)) for _ in range(22)]
    blocks.insert(3, "- A question as a list item?\n- Another one?")
    blocks.insert(8, "* * *\n" + paragraph(rng, 50))
    blocks.insert(14, "***\n" + paragraph(rng, 50))
    return (
        f"---\ntitle: 'Week {number}: Essay number {number}'\ndate: {day.isoformat()}\n"
        f"weight: 1\ntags: [{rng.choice(['tools', 'craft', 'gardens'])}]\n---\n\n"
        + "\n\n".join(blocks)
        + "\n"
    )


def write_corpus(folder: Path, count: int, seed: int = 4) -> list[str]:
    """Write `count` essays into `folder`, one week apart; return their slugs, newest last."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    start = date(2000, 1, 3)
    slugs = []
    for number in range(count):
        slug = f"essay-{number:05d}"
        day = start + timedelta(weeks=number)
        (folder / f"{day.isoformat()}-{slug}.md").write_text(essay(rng, number, day))
        slugs.append(slug)
    return slugs
