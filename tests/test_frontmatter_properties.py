"""Generated front matter, valid and hostile: PyYAML's answer, a named problem, or a post;
never an exception, and never a good essay lost."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsletter.content import yamlbounds
from newsletter.content.frontmatter import load_front_matter
from newsletter.content.yamlbounds import FrontMatterTooBig, bracket_depth

# PyYAML's own safe loader, unbounded: libyaml's where present, as the app uses. (libyaml and the
# pure-Python loader differ at the edges: libyaml accepts "title\t", pure Python refuses it.)
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
TOKENS = [
    "title", "date", "tags", "summary", "weight", "draft", "slug", "lastmod", "publishDate",
    ": ", ":", "\n", "  ", "\t", "- ", "[", "]", "{", "}", ", ", "'", '"', "=", "<<", "&a ",
    "*a", "&b ", "*b", "!!python/object:os.system ", "!!binary ", "!!set ", "!!str ", "? ",
    "|", ">", "#", "%YAML 1.1", "---", "...", "\u2028", "\x85", "\u00a0", "\ufeff", "\x00",
    "\x07", "true", "yes", "null", "~", "0o17", "017", "1e3", ".inf", "2022-02-01",
    "2022-02-30", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00",
    "2022-02-01T23:30:00-05:00", "1" * 5000, "é", "\\", "\\u", "x",
]  # fmt: skip
YAML_SOUP = st.lists(st.sampled_from(TOKENS), max_size=40).map("".join)
SCALARS = (
    st.text(max_size=20)
    | st.integers()
    | st.floats()
    | st.booleans()
    | st.none()
    | st.datetimes(timezones=st.just(UTC))
    | st.dates()
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
DOCUMENTS = st.dictionaries(
    st.sampled_from(["title", "date", "tags", "lastmod", "weight", "draft", "slug", "x"]),
    VALUES,
    max_size=6,
).map(lambda data: yaml.safe_dump(data, allow_unicode=True))
DEEP = st.integers(1, 3000).map(lambda n: "x: " + "[" * n + "]" * n + "\n")
HUGE = st.integers(60_000, 70_000).map(lambda n: "title: '" + "a" * n + "'\ndate: 2022-01-01\n")
KEYS = ["title", "date", "lastmod", "publishDate", "expiryDate", "tags", "summary", "weight",
        "draft", "slug", "aliases", "mood", "true", "null"]  # fmt: skip
ODD_VALUES = [
    "=", "<<", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00", "9999-12-31",
    "0001-01-01", "2022-02-30", "!!python/object:os.system x", "!!binary aGVsbG8=", "&a [*a]",
    "*nowhere", "[a, [b, {c: d}]]", "{a: 1}", "'unclosed", "a\u2028b", "a\x85b", "\u00a0x",
    "yes", "~", "1e400", "9" * 5000, ".nan", "-.inf", "? x", "| \n  block", "x # comment",
]  # fmt: skip
LINE = st.tuples(
    st.sampled_from(KEYS), st.sampled_from(ODD_VALUES) | st.sampled_from(TOKENS) | YAML_SOUP
).map(lambda pair: f"{pair[0]}: {pair[1]}")
GOOD_START = st.just("title: Generated\ndate: 2022-01-03\n") | st.just("")
LINES = st.builds(
    lambda start, lines: start + "\n".join(lines),
    GOOD_START,
    st.lists(LINE, min_size=1, max_size=5),
)
YAML_TEXT = LINES | YAML_SOUP | DOCUMENTS | DEEP | HUGE

TOML_LINES = st.builds(
    lambda value: f"title = 'x'\ndate = 2022-01-01\nlastmod = {value}\n",
    st.sampled_from(["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00", "1979-05-27",
                     "[" * 3000, "{a = 1}", "'x'", "2022-02-30"]),
)  # fmt: skip
TOML_SOUP = st.lists(
    st.sampled_from(
        [
            "title",
            "date",
            " = ",
            "=",
            "[",
            "]",
            "[[x]]",
            "{",
            "}",
            "'",
            '"',
            "\n",
            "2022-01-01",
            "0001-01-01T00:00:00+14:00",
            "1979-05-27T07:32:00-08:00",
            "true",
            "x",
            ", ",
            "\x00",
        ]
    ),  # fmt: skip
    max_size=40,
).map("".join)


def same_as_pyyaml(source: str) -> None:
    """PyYAML's value or PyYAML's error; a refusal only for aliases or deep nesting."""
    try:
        ours = load_front_matter(source)
    except FrontMatterTooBig:
        assert "*" in source or bracket_depth(source) > 64
        return
    except yaml.YAMLError:
        ours = yaml.YAMLError
    except (ValueError, OverflowError):
        ours = ValueError
    try:
        theirs = yaml.load(source, Loader=LOADER)  # noqa: S506 (a safe loader)
    except yaml.YAMLError:
        theirs = yaml.YAMLError
    except (ValueError, OverflowError):
        theirs = ValueError
    assert ours == theirs or (ours != ours and theirs != theirs)  # NaN is not equal to itself


@settings(max_examples=300, deadline=None)
@given(LINES | YAML_SOUP | DOCUMENTS)
def test_front_matter_is_what_pyyaml_reads_errors_included(source):
    same_as_pyyaml(source)


def wrap(text: str, fence: str, bom: bool, crlf: bool) -> bytes:
    """A whole post file around generated front matter."""
    raw = f"{fence}\n{text}\n{fence}\nSome body text.\n"
    raw = raw.replace("\n", "\r\n") if crlf else raw
    return ("\ufeff" if bom else "").encode() + raw.encode("utf-8", "surrogatepass")


HOSTILE_FILES = st.one_of(
    st.builds(wrap, YAML_TEXT, st.just("---"), st.booleans(), st.booleans()),
    st.builds(wrap, TOML_SOUP | TOML_LINES, st.just("+++"), st.booleans(), st.booleans()),
    st.binary(max_size=200),
    st.binary(max_size=100).map(lambda junk: b"---\ntitle: X\ndate: 2022-01-01\n" + junk),
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(files=st.lists(HOSTILE_FILES, min_size=1, max_size=3))
def test_generated_files_never_take_the_good_essays_down(files, client, runner, posts_dir):
    shutil.rmtree(posts_dir)
    posts_dir.mkdir()
    (posts_dir / "good.md").write_text("---\ntitle: Good essay\ndate: 2022-01-01\n---\nText.\n")
    (posts_dir / "good-two.md").write_text("---\ntitle: Second\ndate: 2022-01-02\n---\nMore.\n")
    names = [f"generated-{index}.md" for index in range(len(files))]
    for name, raw in zip(names, files, strict=True):
        (posts_dir / name).write_bytes(raw)
    for page in ("/", "/archive/", "/feed.xml", "/atom.xml", "/posts/good/", "/posts/good-two/"):
        assert client.get(page).status_code == 200, page
    assert "Good essay" in client.get("/").get_data(as_text=True)
    result = runner.invoke(args=["posts", "check"])
    assert result.exception is None or isinstance(result.exception, SystemExit)
    library = client.application.extensions["post_library"]
    served = {post.path.name for post in library.snapshot().every_post}
    for name in names:
        assert name in served or re.search(rf"{re.escape(name)}(, line \d+)?: ", result.output), (
            name
        )
    now = datetime.now(UTC)
    for post in library.snapshot().every_post:
        if post.is_published(now):
            assert client.get(f"/posts/{post.slug}/").status_code == 200


def bounded_outcome(load, source: str, max_values: int, max_depth: int):
    """A loader's value, or its refusal's type and sentence, or the parser's error type."""
    try:
        return ("value", load(source, max_values, max_depth))
    except FrontMatterTooBig as error:
        return ("refused", str(error))
    except (yaml.YAMLError, ValueError, OverflowError) as error:
        return ("error", type(error).__name__)


def count_every_node(source: str, max_values: int, max_depth: int):
    """The bounded loader without its shortcuts: every bracket and every node counted."""
    if bracket_depth(source) > max_depth:
        raise FrontMatterTooBig(f"it nests values more than {max_depth} levels deep")
    loader = yamlbounds._LOADER(source)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        yamlbounds._check_node(node, max_values, max_depth)
        return loader.construct_document(node)
    finally:
        loader.dispose()


BLOCK_DEEP = st.integers(1, 12).map(lambda n: "x:\n" + "".join("  " * i + "- \n" for i in range(n)))
FLOW = st.lists(st.sampled_from(["[", "]", "{", "}", "a", ", ", ": ", "'[' "]), max_size=24)


@settings(max_examples=400, deadline=None)
@given(
    LINES | YAML_SOUP | DOCUMENTS | BLOCK_DEEP | FLOW.map(lambda parts: "x: " + "".join(parts)),
    st.integers(1, 40),
    st.integers(1, 8),
)
def test_the_shortcuts_give_the_full_counts_verdict(source, max_values, max_depth):
    # Small limits, so that documents are refused for their size and depth as often as not.
    ours = bounded_outcome(yamlbounds.load_bounded_yaml, source, max_values, max_depth)
    reference = bounded_outcome(count_every_node, source, max_values, max_depth)
    assert ours == reference or ours != ours  # NaN is not equal to itself
