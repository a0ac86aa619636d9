"""Passkeys: registered from the desk, then signing in with no mail, through a software
authenticator that signs as a real one does (P-256, "none" attestation), checked by the
`webauthn` package exactly as a browser's answer would be."""

from __future__ import annotations

import hashlib
import json
import secrets
import struct

import cbor2
import pytest
from conftest import csrf_token_from, page
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from desk_fixtures import AUTHOR, desk, desk_post
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url

FIXTURES = (desk, desk_post)
ORIGIN = "https://essays.example.org"  # the suite's SITE_URL
RP_ID = "essays.example.org"


class SoftAuthenticator:
    """One credential on a pretend security key: what navigator.credentials returns."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = secrets.token_bytes(16)
        self.count = 0

    def _client_data(self, kind: str, challenge: str, origin: str) -> bytes:
        return json.dumps({"type": kind, "challenge": challenge, "origin": origin}).encode()

    def _auth_data(self, rp_id: str, flags: int, attested: bytes = b"") -> bytes:
        self.count += 1
        return (
            hashlib.sha256(rp_id.encode()).digest()
            + bytes([flags])
            + struct.pack(">I", self.count)
            + attested
        )

    def create(self, options: dict, origin: str = ORIGIN) -> dict:
        numbers = self.key.public_key().public_numbers()
        cose = {1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32), -3: numbers.y.to_bytes(32)}
        attested = bytes(16) + struct.pack(">H", 16) + self.credential_id + cbor2.dumps(cose)
        auth_data = self._auth_data(options["rp"]["id"], 0x45, attested)  # UP, UV, AT
        client = self._client_data("webauthn.create", options["challenge"], origin)
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return self._credential({"clientDataJSON": client, "attestationObject": attestation})

    def get(self, options: dict, origin: str = ORIGIN) -> dict:
        auth_data = self._auth_data(options["rpId"], 0x05)  # UP, UV
        client = self._client_data("webauthn.get", options["challenge"], origin)
        signed = auth_data + hashlib.sha256(client).digest()
        signature = self.key.sign(signed, ec.ECDSA(hashes.SHA256()))
        return self._credential(
            {"clientDataJSON": client, "authenticatorData": auth_data, "signature": signature}
        )

    def _credential(self, response: dict) -> dict:
        encoded = bytes_to_base64url(self.credential_id)
        return {
            "id": encoded,
            "rawId": encoded,
            "type": "public-key",
            "response": {name: bytes_to_base64url(value) for name, value in response.items()},
            "clientExtensionResults": {},
        }


def register(desk_post, authenticator: SoftAuthenticator, **create):
    options = desk_post("/desk/passkeys/options").get_json()
    credential = authenticator.create(options, **create)
    return desk_post("/desk/passkeys", {"credential": json.dumps(credential), "name": "Laptop"})


def sign_in_with(client, authenticator: SoftAuthenticator, **get):
    token = csrf_token_from(client.get("/desk/sign-in").get_data(as_text=True))
    options = client.post("/desk/sign-in/passkey/options", data={"csrf_token": token}).get_json()
    assert options["rpId"] == RP_ID
    credential = authenticator.get(options, **get)
    return client.post(
        "/desk/sign-in/passkey", data={"csrf_token": token, "credential": json.dumps(credential)}
    )


def test_a_registered_passkey_signs_in_without_mail(app, desk, desk_post):
    authenticator = SoftAuthenticator()
    answer = register(desk_post, authenticator)
    assert answer.get_json() == {"ok": True, "next": "/desk/passkeys"}
    listed = page(desk.get("/desk/passkeys")).select("main tbody tr")
    assert [tr.find("td").get_text() for tr in listed] == ["Laptop"]

    stranger = app.test_client()
    signed = sign_in_with(stranger, authenticator)
    assert signed.get_json() == {"ok": True, "next": "/desk/"}
    assert page(stranger.get("/desk/")).find("h1").get_text() == "Overview"
    assert AUTHOR in page(stranger.get("/desk/")).find("form", class_="sign-out").get_text()


def test_an_unknown_passkey_or_a_wrong_origin_is_refused(app, desk_post):
    authenticator = SoftAuthenticator()
    assert register(desk_post, authenticator, origin="https://evil.example").status_code == 400
    refused = sign_in_with(app.test_client(), SoftAuthenticator())
    assert refused.status_code == 400
    assert "not registered here" in refused.get_json()["message"]


def test_a_replayed_challenge_is_refused(app, desk_post):
    authenticator = SoftAuthenticator()
    register(desk_post, authenticator)
    client = app.test_client()
    token = csrf_token_from(client.get("/desk/sign-in").get_data(as_text=True))
    options = client.post("/desk/sign-in/passkey/options", data={"csrf_token": token}).get_json()
    answer = json.dumps(authenticator.get(options))
    data = {"csrf_token": token, "credential": answer}
    assert client.post("/desk/sign-in/passkey", data=data).status_code == 200
    fresh = csrf_token_from(client.get("/desk/").get_data(as_text=True))  # a new session's
    client.post("/desk/sign-out", data={"csrf_token": fresh})
    fresh = csrf_token_from(client.get("/desk/sign-in").get_data(as_text=True))
    again = client.post("/desk/sign-in/passkey", data={**data, "csrf_token": fresh})
    assert again.status_code == 400 and "expired" in again.get_json()["message"]


@pytest.mark.parametrize("field", ["signature", "authenticatorData"])
def test_a_tampered_answer_is_refused(app, desk_post, field):
    authenticator = SoftAuthenticator()
    register(desk_post, authenticator)
    client = app.test_client()
    token = csrf_token_from(client.get("/desk/sign-in").get_data(as_text=True))
    options = client.post("/desk/sign-in/passkey/options", data={"csrf_token": token}).get_json()
    credential = authenticator.get(options)
    raw = bytearray(base64url_to_bytes(credential["response"][field]))
    raw[-1] ^= 1
    credential["response"][field] = bytes_to_base64url(bytes(raw))
    data = {"csrf_token": token, "credential": json.dumps(credential)}
    assert client.post("/desk/sign-in/passkey", data=data).status_code == 400
    assert client.get("/desk/").status_code == 303
