"""Making an essay's links absolute changes the URLs and nothing else of the markup."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from newsletter.links import absolutize

BASE = "https://example.org/posts/week-1/"

text = st.text(st.characters(blacklist_characters="<&", blacklist_categories=("Cs",)), max_size=20)
name = st.sampled_from(["amp", "lt", "gt", "nbsp", "eacute", "hellip"])
passthrough = st.one_of(
    text,
    name.map(lambda n: f"&{n};"),
    st.integers(32, 0x10FFFF).map(lambda n: f"&#{n};"),
    st.integers(32, 0xFFFF).map(lambda n: f"&#x{n:x};"),
    text.filter(lambda t: "--" not in t and not t.endswith("-")).map(lambda t: f"<!--{t}-->"),
    st.just("<!DOCTYPE html>"),
    st.sampled_from(["<p>", "</p>", "<em>", "</em>", "<br>", '<span class="x">', "</span>"]),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(passthrough, max_size=12).map("".join))
def test_markup_without_urls_comes_back_exactly_as_written(html):
    assert absolutize(html, BASE) == html


@settings(max_examples=200, deadline=None)
@given(st.lists(passthrough, max_size=8).map("".join), st.sampled_from(["notes/", "/a", "#fn1"]))
def test_only_the_url_changes_around_a_link(html, url):
    out = absolutize(f'{html}<a href="{url}">x</a>{html}', BASE)
    assert out.startswith(html) and out.endswith(f">x</a>{html}")
    assert 'href="https://example.org/' in out
