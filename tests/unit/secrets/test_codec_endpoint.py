"""``ferryman server``'s remote codec for the Temporal Web UI: auth, round trip, CORS."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from ferryman.identity.tokens import hash_token, new_token
from ferryman.server.app import create_app
from ferryman.server.context import ServerSettings
from ferryman.server.web.session import COOKIE, Session, Sessions, fingerprint
from ferryman.temporal.codec import ENCODING
from ferryman.temporal.converter import DATA_CONVERTER

UI = "http://localhost:8233"
TOKEN = new_token()


def write_config(path: Path, encryption: bool = True) -> None:
    (path.parent / "k1.key").write_text(base64.b64encode(os.urandom(32)).decode())
    text = f"users:\n  alice: {{token: '{hash_token(TOKEN)}'}}\n"
    if encryption:
        text += (
            f"encryption:\n  active: k1\n  keys:\n    k1: {{file: k1.key}}\n  web-ui-origin: {UI}\n"
        )
    path.write_text(text)


def app_for(tmp_path: Path, encryption: bool = True) -> TestClient:
    tmp_path.mkdir(parents=True, exist_ok=True)
    config = tmp_path / "config.yaml"
    write_config(config, encryption)
    settings = ServerSettings(config=config, state_dir=tmp_path / "server", session_secret="s")
    return TestClient(create_app(settings))


@pytest.fixture
def http(tmp_path: Path) -> Iterator[TestClient]:
    with app_for(tmp_path) as client:
        yield client


def body_of(*texts: str) -> dict[str, object]:
    payloads = DATA_CONVERTER.payload_converter.to_payloads(list(texts))
    message = json_format.MessageToDict(Payloads(payloads=payloads))
    return message


AUTH = {"Authorization": f"Bearer {TOKEN}", "X-Namespace": "default", "Origin": UI}


def test_without_a_token_the_codec_answers_401(http: TestClient) -> None:
    for action in ("encode", "decode"):
        answer = http.post(f"/codec/{action}", json=body_of("x"), headers={"Origin": UI})
        assert answer.status_code == 401
        assert answer.headers["access-control-allow-origin"] == UI  # the UI can show why
    wrong = {**AUTH, "Authorization": "Bearer fm_nobody"}
    assert http.post("/codec/decode", json=body_of("x"), headers=wrong).status_code == 401


def test_encode_then_decode_gives_the_payloads_back(http: TestClient) -> None:
    sent = body_of("visible-marker", "second")
    encoded = http.post("/codec/encode", json=sent, headers=AUTH)
    assert encoded.status_code == 200, encoded.text
    assert encoded.headers["access-control-allow-origin"] == UI
    sealed = encoded.json()["payloads"]
    assert len(sealed) == 2
    assert all(base64.b64decode(p["metadata"]["encoding"]) == ENCODING for p in sealed)
    assert b"visible-marker" not in base64.b64decode(sealed[0]["data"])
    decoded = http.post("/codec/decode", json=encoded.json(), headers=AUTH)
    assert decoded.status_code == 200, decoded.text
    assert decoded.json() == sent


def test_the_web_ui_origin_passes_the_preflight_and_no_other(http: TestClient) -> None:
    ask = {
        "Origin": UI,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
    }
    answer = http.options("/codec/decode", headers=ask)
    assert answer.status_code == 204
    assert answer.headers["access-control-allow-origin"] == UI
    assert "POST" in answer.headers["access-control-allow-methods"]
    allowed = answer.headers["access-control-allow-headers"].lower()
    assert {"authorization", "content-type", "x-namespace"} <= {
        h.strip() for h in allowed.split(",")
    }
    other = http.options("/codec/decode", headers={**ask, "Origin": "http://evil.example"})
    assert other.status_code == 403
    assert "access-control-allow-origin" not in other.headers
    posted = http.post(
        "/codec/encode", json=body_of("x"), headers={**AUTH, "Origin": "http://evil.example"}
    )
    assert "access-control-allow-origin" not in posted.headers


def test_a_payload_of_an_unknown_key_is_refused_in_one_line(
    http: TestClient, tmp_path: Path
) -> None:
    with app_for(tmp_path / "other") as other:
        sealed = other.post("/codec/encode", json=body_of("x"), headers=AUTH).json()
    sealed["payloads"][0]["metadata"]["encryption-key-id"] = base64.b64encode(b"k7").decode()
    answer = http.post("/codec/decode", json=sealed, headers=AUTH)
    assert answer.status_code == 422
    assert "key 'k7'" in answer.json()["error"]


def test_without_encryption_the_codec_is_not_found(tmp_path: Path) -> None:
    with app_for(tmp_path, encryption=False) as http:
        answer = http.post("/codec/decode", json=body_of("x"), headers=AUTH)
    assert answer.status_code == 404
    assert "not configured" in answer.json()["error"]


def test_a_dashboard_session_cookie_stands_for_a_token(tmp_path: Path) -> None:
    with app_for(tmp_path) as http:
        stored = hash_token_of(tmp_path / "config.yaml")
        cookie = Sessions("s").dump(Session(user="alice", key=fingerprint(stored), csrf="c"))
        http.cookies.set(COOKIE, cookie)
        answer = http.post("/codec/encode", json=body_of("x"), headers={"Origin": UI})
        assert answer.status_code == 200, answer.text
        forged = Sessions("other").dump(Session(user="alice", key=fingerprint(stored), csrf="c"))
        http.cookies.set(COOKIE, forged)
        refused = http.post("/codec/encode", json=body_of("x"), headers={"Origin": UI})
        assert refused.status_code == 401


def hash_token_of(config: Path) -> str:
    line = next(x for x in config.read_text().splitlines() if "token:" in x)
    return line.split("'")[1]
