"""`flask posts check`: each problem once, at the file's own line, every problem of a file."""

from __future__ import annotations

import logging

from hypothesis import given, settings
from hypothesis import strategies as st

from newsletter.cli.postcheck import front_matter_line


def check(runner):
    return runner.invoke(args=["posts", "check"])


def test_a_yaml_error_is_given_at_the_line_of_the_file_not_of_the_front_matter(runner, write_post):
    write_post("colon.md", raw="---\ntitle: Week 4: A Colon\ndate: 2022-02-01\n---\nText.\n")
    result = check(runner)
    assert result.exit_code == 1
    assert "colon.md, line 2: the front matter is not valid YAML" in result.output
    assert "on line 2, column 14" in result.output and "line 1," not in result.output
    assert "<unicode string>" not in result.output


def test_a_toml_error_is_given_at_the_line_of_the_file(runner, write_post):
    write_post("t.md", raw='+++\ntitle = "x"\ndate = 2022-01-01\nweight = \n+++\nText.\n')
    assert "t.md, line 4: the front matter is not valid TOML" in check(runner).output


def test_every_problem_of_a_file_is_listed_on_its_own_line(runner, write_post):
    write_post("bad.md", title="Fine", date="'not a date'", weight="heavy", tags="5")
    output = check(runner).output
    lines = [line for line in output.splitlines() if "bad.md" in line]
    assert lines == [
        f"Post file {line.split('Post file ')[1].split(',')[0]}, line {n}: {reason}"
        for line, (n, reason) in zip(
            lines,
            [
                (3, "'date: not a date' is not a date. Write it like 2022-02-01 or "
                 "2022-02-01T09:30:00-05:00."),
                (4, "'weight' must be a whole number, not 'heavy'."),
                (5, "'tags' must be a list, like tags: [one, two]."),
            ],
            strict=True,
        )
    ]  # fmt: skip
    assert "3 problems in 1 file; 0 post files fine." in output


def test_each_problem_is_printed_once_not_also_as_a_log_line(runner, write_post, capfd, caplog):
    write_post("good.md", title="Good", date="2022-01-01")
    write_post("no-date.md", title="No date")
    with caplog.at_level(logging.INFO):
        result = check(runner)
    assert result.output.count("no-date.md") == 1
    assert "no-date.md" not in caplog.text
    assert "no-date.md" not in capfd.readouterr().err
    assert "1 problem in 1 file; 1 post file fine." in result.output


def test_a_file_wide_problem_has_no_line(runner, write_post):
    write_post("no-title.md", date="2022-01-01")
    assert "Post file " in check(runner).output
    assert "no-title.md: the front matter has no 'title'" in check(runner).output


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 10_000), st.integers(1, 200)), max_size=3))
def test_every_parser_mark_moves_down_one_line(marks):
    """Whatever marks a YAML error holds, each moves down by the opening fence's line, and the
    reported line is the last mark's."""
    reason = " ".join(f'x in "<unicode string>", line {n}, column {c}' for n, c in marks)
    line, text = front_matter_line(reason)
    assert line == (marks[-1][0] + 1 if marks else None)
    for n, c in marks:
        assert f"on line {n + 1}, column {c}" in text
    assert "<unicode string>" not in text
