"""No constant or guessable key ever signs a link; commands share the key `make run` writes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from itsdangerous import URLSafeTimedSerializer

from app import create_app
from newsletter.config import ConfigError
from newsletter.instance_key import ensure_secret_key
from newsletter.subscribers import subscriptions, tokens

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("key", [" " * 16, "a" * 16, "password12345678", "dev"])
def test_low_entropy_keys_are_refused_with_a_sentence(config, key):
    config.update(SECRET_KEY=key, TESTING=False)
    with pytest.raises(ConfigError, match=r"^SECRET_KEY is a placeholder or too short.*\.$"):
        create_app(config)


@pytest.mark.parametrize("mode", [{"DEBUG": True}, {"TESTING": True}])
def test_debug_or_testing_without_a_key_signs_nothing(config, mode):
    del config["SECRET_KEY"]
    config.update({"TESTING": False, **mode})
    with pytest.raises(ConfigError, match="SECRET_KEY is not set"):
        create_app(config)


def test_make_run_writes_one_random_key_once(tmp_path):
    target = tmp_path / "instance" / "config.py"
    assert ensure_secret_key(target) is True
    first = target.read_text()
    assert ensure_secret_key(target) is False  # a second run keeps the key: links survive
    assert target.read_text() == first
    namespace: dict = {}
    exec(first, namespace)
    assert len(namespace["SECRET_KEY"]) == 64
    other = tmp_path / "other.py"
    ensure_secret_key(other)
    assert other.read_text() != first


def run_flask(args: list[str], env_extra: dict) -> subprocess.CompletedProcess:
    """Run a `flask` command from the repository, as the README gives it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASK_")}
    env.update(FLASK_APP="app.py", **env_extra)
    return subprocess.run(
        [sys.executable, "-m", "flask", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_flask_command_without_a_key_says_one_sentence(tmp_path):
    env = {"FLASK_SECRET_KEY": "", "FLASK_DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}"}
    result = run_flask(["posts", "check"], env)  # the empty variable beats instance/config.py
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [lines[0]] and lines[0].startswith("Configuration error: SECRET_KEY")


def test_a_link_signed_with_another_key_says_so(app):
    with app.test_request_context():
        good = tokens.confirm_token(1, "reader@example.org")
        forged = URLSafeTimedSerializer("another-key", salt=tokens.CONFIRM_SALT).dumps([1, "x"])
        with pytest.raises(tokens.InvalidToken, match="signed with a different key"):
            tokens.read_confirm_token(forged)
        with pytest.raises(tokens.InvalidToken, match="cut short"):
            tokens.read_confirm_token(good[:-6])


def test_a_token_reveals_no_unkeyed_hash_of_the_address(app):
    import hashlib

    address = "reader@example.org"
    with app.test_request_context():
        _id, digest = tokens.read_unsubscribe_token(tokens.unsubscribe_token(1, address))
        assert digest != hashlib.sha256(address.encode()).hexdigest()[:16]
        app.config["SECRET_KEY"] = "a-different-key-for-this-check-only"
        assert tokens.unsubscribe_token(1, address).split(".")[0] != digest
        assert not tokens.token_matches(digest, address)  # the digest depends on the key


def test_subscribers_module_still_confirms_with_keyed_tokens(app):
    with app.test_request_context():
        result = subscriptions.subscribe("keyed@example.org", source="test")
        token = tokens.confirm_token(result.subscriber_id, "keyed@example.org")
        assert subscriptions.confirm(token).status == "active"
