"""Front matter is read by PyYAML itself: the same values and errors as `yaml.safe_load`,
within bounds that keep a hostile file from hanging or crashing the site."""

from __future__ import annotations

import pytest
import yaml

from newsletter.content.frontmatter import load_front_matter, load_toml
from newsletter.content.yamlbounds import FrontMatterTooBig

FLAT = [
    "title: 'Week 4: Some Title With A Colon'\ndate: 2022-02-01\nweight: 1\n",
    'title: "Double: quoted"\ndate: 2022-02-01T09:30:00-05:00\n',
    "title: Plain title with words\ndate: 2022-02-01 09:30:00\ndraft: true\n",
    "title: It''s fine\n",
    "title: 'It''s quoted'\n",
    "tags: [one, two words, 3, 2022-01-01]\ncategories: []\n",
    "draft: yes\nweight: 0x1F\nratio: 3.5\nnothing: ~\nempty:\nurl: https://example.org/a#b\n",
    "title: C# in a week\nslug: c-sharp\nlastmod: 2022-02-05\n",
    "title: 100%\nsummary: A 'quoted' word inside.\n",
    "title: Version 1.0\nnumber: 1_000\noctal: 0o17\nbig: 12345678901234567890\n",
]

NOT_FLAT = [
    "aliases:\n  - /old/\n  - /older/\n",  # block list
    "title: x # a comment\n",
    'title: "Escaped \\" quote"\n',
    "title: 'Unclosed\n",
    "title: Week 4: colon in a plain scalar\n",
    "params:\n  nested: true\n",
    "title: &anchor x\nother: *anchor\n",
    "summary: >\n  folded\n  text\n",
    "title: x\ntitle: y\n",  # a duplicate key: PyYAML decides
    "tags: ['quoted', item]\n",
    "title: 'a bell \x07 inside'\n",  # YAML refuses control characters
]


# Where the hand-written fast path crashed or disagreed with PyYAML (issue 8).
DISAGREED = [
    "summary: =\n",
    "mood: <<\n",
    "true: 1\nyes: 2\nnull: 3\n",
    "title: a\u2028b\n",
    "title: a\x85b\n",
    "title: \u00a0lead\n",
    "title: !!python/object:os.system x\n",
    "title: !!python/name:os.system\n",
]


def same_as_safe_load(source: str) -> None:
    """load_front_matter gives safe_load's value, or fails as safe_load does."""
    try:
        expected = yaml.safe_load(source)
    except yaml.YAMLError:
        with pytest.raises(yaml.YAMLError):
            load_front_matter(source)
    else:
        assert load_front_matter(source) == expected
        assert type(load_front_matter(source)) is type(expected)


@pytest.mark.parametrize("source", FLAT + NOT_FLAT + DISAGREED)
def test_front_matter_is_what_pyyaml_reads(source):
    same_as_safe_load(source)


def test_alias_bomb_is_refused_quickly():
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 9):
        name, previous = chr(97 + level), chr(96 + level)
        lines.append(f"{name}: &{name} [{', '.join(['*' + previous] * 9)}]")
    with pytest.raises(FrontMatterTooBig, match="aliases expand"):
        load_front_matter("\n".join(lines) + "\n")


def test_recursive_alias_is_refused():
    with pytest.raises(FrontMatterTooBig, match="refers to itself"):
        load_front_matter("a: &a [*a]\n")


@pytest.mark.parametrize("load", [load_front_matter, load_toml])
def test_deep_nesting_is_a_named_error_not_a_recursion_error(load):
    key = "x: " if load is load_front_matter else "x = "
    with pytest.raises(FrontMatterTooBig, match="levels deep"):
        load(key + "[" * 5000 + "]" * 5000 + "\n")


def test_deep_block_nesting_is_refused():
    source = "".join(" " * level + f"k{level}:\n" for level in range(200)) + " " * 200 + "k: v\n"
    with pytest.raises(FrontMatterTooBig, match="levels deep"):
        load_front_matter(source)
