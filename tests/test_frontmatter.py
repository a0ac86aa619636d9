"""The flat front-matter fast path gives exactly what PyYAML gives, or hands over to it."""

from __future__ import annotations

import pytest
import yaml

from newsletter.frontmatter import _load_flat, load_front_matter

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


@pytest.mark.parametrize("source", FLAT)
def test_flat_front_matter_matches_pyyaml(source):
    assert _load_flat(source) is not None
    assert load_front_matter(source) == yaml.safe_load(source)
    fast = load_front_matter(source)
    assert {k: type(v) for k, v in fast.items()} == {
        k: type(v) for k, v in yaml.safe_load(source).items()
    }


@pytest.mark.parametrize("source", NOT_FLAT)
def test_anything_else_goes_to_pyyaml(source):
    assert _load_flat(source) is None
    try:
        expected = yaml.safe_load(source)
    except yaml.YAMLError:
        with pytest.raises(yaml.YAMLError):
            load_front_matter(source)
    else:
        assert load_front_matter(source) == expected
