"""The app starts and serves the home page."""

from __future__ import annotations


def test_home_page_lists_a_published_post(client, write_post):
    write_post("hello.md", title="'Week 1: Hello'", date="2022-02-01")
    response = client.get("/")
    assert response.status_code == 200
    assert "Week 1: Hello" in response.get_data(as_text=True)
