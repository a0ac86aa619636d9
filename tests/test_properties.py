"""Property-based tests (Hypothesis): address normalisation and link tokens."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsletter.subscribers import subscriptions, tokens

settings.register_profile(
    "suite",
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
settings.load_profile("suite")

LOCAL = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789._+-", min_size=1, max_size=70)
DOMAIN = st.from_regex(r"\A[a-z][a-z0-9]{0,20}\.(org|com|example)\Z")


@given(raw=st.text(max_size=300))
def test_normalisation_either_refuses_with_a_sentence_or_is_idempotent(app, raw):
    with app.app_context():
        try:
            address = subscriptions.normalise_address(raw)
        except subscriptions.InvalidAddress as error:
            assert str(error).endswith((".", "?")) and str(error)[0].isupper()
            return
        assert subscriptions.normalise_address(address) == address
        local, domain = address.split("@")
        assert len(local) <= 64 and len(address) <= 254 and domain == domain.lower()


@given(local=LOCAL, domain=DOMAIN, upper=st.booleans(), pad=st.sampled_from(["", " ", "\t"]))
def test_case_of_the_domain_and_padding_never_make_a_second_address(app, local, domain, upper, pad):
    with app.app_context():
        try:
            plain = subscriptions.normalise_address(f"{local}@{domain}")
        except subscriptions.InvalidAddress:
            return
        variant = f"{pad}{local}@{domain.upper() if upper else domain}{pad}"
        assert subscriptions.normalise_address(variant) == plain


@given(subscriber_id=st.integers(min_value=1, max_value=2**62), local=LOCAL, domain=DOMAIN)
def test_tokens_round_trip_and_never_show_the_address(app, subscriber_id, local, domain):
    address = f"{local}@{domain}"
    with app.test_request_context():
        for make, read in (
            (tokens.confirm_token, tokens.read_confirm_token),
            (tokens.unsubscribe_token, tokens.read_unsubscribe_token),
        ):
            token = make(subscriber_id, address)
            assert local not in token or len(local) < 4
            found_id, digest = read(token)
            assert found_id == subscriber_id and tokens.token_matches(digest, address)


@given(
    subscriber_id=st.integers(min_value=1, max_value=10**6), cut=st.integers(1, 30), data=st.data()
)
def test_an_altered_token_is_always_refused(app, subscriber_id, cut, data):
    with app.test_request_context():
        token = tokens.unsubscribe_token(subscriber_id, "reader@example.org")
        # Not the last character: its two spare base64 bits may change without changing a byte.
        position = data.draw(st.integers(0, len(token) - 2))
        replacement = data.draw(st.sampled_from("ABCxyz012-_"))
        altered = token[:position] + replacement + token[position + 1 :]
        for bad in {token[:-cut], altered} - {token}:
            with pytest.raises(tokens.InvalidToken):
                tokens.read_unsubscribe_token(bad)
