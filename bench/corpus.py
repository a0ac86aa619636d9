"""Generated essays for the benchmarks: realistic ~2,000-word posts in the real file format."""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path

WORDS = (
    "the of and to in a is that it for as with was on be by this are or from at which have an "
    "not but they his we all there been one has more were would when their what so about if "
    "will can other into than some could time only these them very people should after first "
    "work year because most also through many well where much before being between those "
    "attention habit reading writing practice morning letter essay week garden question idea "
    "quiet notebook library evening memory language attention craft patience city river "
    "kitchen conversation teacher student promise window machine silence weather friend"
).split()
TAGS = ["Reading", "Writing", "Work", "Cities", "Tools", "Habits", "Memory", "Deep Work"]


def sentence(rng: random.Random) -> str:
    """One plausible sentence of 8 to 24 words."""
    words = rng.choices(WORDS, k=rng.randint(8, 24))
    return " ".join(words).capitalize() + rng.choice([".", ".", ".", "?", "!"])


def paragraph(rng: random.Random, index: int) -> str:
    """A paragraph of prose, sometimes with an inline link, as the author writes them."""
    text = " ".join(sentence(rng) for _ in range(rng.randint(4, 8)))
    if rng.random() < 0.3:
        text += f" See [this page](https://example.org/notes/{index}.html) for more."
    return text


def body(rng: random.Random, words: int = 2000) -> str:
    """About `words` words: paragraphs, a short list, and the `* * *` and `***` rules."""
    parts: list[str] = []
    count = 0
    while count < words:
        part = paragraph(rng, len(parts))
        if len(parts) == 4:
            part = "- A question as a list item?\n- Another one?\n\n" + part
        elif len(parts) == 8:
            part = "* * *\n" + part
        elif len(parts) == 12:
            part = "***\n" + part
        parts.append(part)
        count += len(part.split())
    return "\n\n".join(parts) + "\n"


def essay(rng: random.Random, number: int, day: date) -> str:
    """One essay file: YAML front matter as in POST_FORMAT.md, then the body."""
    tags = ", ".join(rng.sample(TAGS, k=2))
    return (
        "---\n"
        f"title: 'Week {number}: {sentence(rng)[:-1].title()}'\n"
        f"date: {day.isoformat()}\n"
        f"weight: {rng.randint(1, 3)}\n"
        f"tags: [{tags}]\n"
        "---\n\n" + body(rng)
    )


def write_corpus(folder: Path, count: int, seed: int = 1) -> Path:
    """Write `count` essays, one per week going back from 2024, into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    first = date(2024, 1, 1) - timedelta(weeks=count)
    for number in range(1, count + 1):
        day = first + timedelta(weeks=number)
        path = folder / f"{day.isoformat()}-week-{number}.md"
        path.write_text(essay(rng, number, day), encoding="utf-8")
    return folder
