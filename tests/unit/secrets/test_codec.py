"""The AES-GCM payload codec and the config's ``encryption:`` keys."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from pydantic import BaseModel
from temporalio.api.common.v1 import Payload

from ferryman.identity.config import IdentityError
from ferryman.identity.encryption import configured_keys
from ferryman.temporal.codec import ENCODING, KEY_ID, AESGCMCodec, CodecError
from ferryman.temporal.converter import DATA_CONVERTER, configured_converter, data_converter

K1, K2 = os.urandom(32), os.urandom(32)


class Marker(BaseModel):
    text: str


def plain(text: str) -> Payload:
    return DATA_CONVERTER.payload_converter.to_payloads([Marker(text=text)])[0]


async def test_encode_hides_the_payload_and_decode_gives_it_back() -> None:
    codec = AESGCMCodec({"k1": K1}, active="k1")
    original = plain("visible-marker")
    (sealed,) = await codec.encode([original])
    assert sealed.metadata["encoding"] == ENCODING
    assert sealed.metadata[KEY_ID] == b"k1"
    assert b"visible-marker" not in sealed.SerializeToString()
    assert b"visible-marker" in original.SerializeToString()
    assert await codec.decode([sealed]) == [original]


async def test_each_encoding_uses_a_fresh_nonce() -> None:
    codec = AESGCMCodec({"k1": K1}, active="k1")
    first, second = await codec.encode([plain("same"), plain("same")])
    assert first.data != second.data


async def test_rotation_old_payloads_decode_after_the_active_key_moves_on() -> None:
    before = AESGCMCodec({"k1": K1}, active="k1")
    (old,) = await before.encode([plain("written under k1")])
    after = AESGCMCodec({"k1": K1, "k2": K2}, active="k2")
    (new,) = await after.encode([plain("written under k2")])
    assert new.metadata[KEY_ID] == b"k2"
    assert await after.decode([old, new]) == [plain("written under k1"), plain("written under k2")]


async def test_a_key_id_the_codec_lacks_is_a_clear_error() -> None:
    (sealed,) = await AESGCMCodec({"k2": K2}, active="k2").encode([plain("x")])
    without = AESGCMCodec({"k1": K1}, active="k1")
    with pytest.raises(CodecError, match=r"key 'k2', which the config's encryption.keys"):
        await without.decode([sealed])


async def test_a_payload_under_another_key_with_the_same_id_does_not_decrypt() -> None:
    (sealed,) = await AESGCMCodec({"k1": K1}, active="k1").encode([plain("x")])
    with pytest.raises(CodecError, match="does not decrypt"):
        await AESGCMCodec({"k1": K2}, active="k1").decode([sealed])


async def test_the_key_id_is_authenticated() -> None:
    codec = AESGCMCodec({"k1": K1, "k2": K1}, active="k1")
    (sealed,) = await codec.encode([plain("x")])
    sealed.metadata[KEY_ID] = b"k2"  # same key material, but the id is bound to the text
    with pytest.raises(CodecError):
        await codec.decode([sealed])


async def test_plain_payloads_from_before_encryption_still_decode() -> None:
    codec = AESGCMCodec({"k1": K1}, active="k1")
    assert await codec.decode([plain("old history")]) == [plain("old history")]


def test_keys_must_be_256_bits_and_active_listed() -> None:
    with pytest.raises(ValueError, match="32"):
        AESGCMCodec({"k1": b"short"}, active="k1")
    with pytest.raises(ValueError, match="not among"):
        AESGCMCodec({"k1": K1}, active="k2")


def write_config(home: Path, text: str) -> Path:
    path = home / "config.yaml"
    path.write_text(text)
    return path


def test_without_an_encryption_section_nothing_changes(tmp_path: Path) -> None:
    path = write_config(tmp_path, "groups: {}\n")
    assert configured_keys(path) is None
    assert configured_converter(path) is DATA_CONVERTER
    assert configured_converter(tmp_path / "missing.yaml") is DATA_CONVERTER


async def test_keys_from_a_file_and_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "k1.key").write_text(base64.b64encode(K1).decode() + "\n")
    monkeypatch.setenv("FERRYMAN_TEST_K2", base64.b64encode(K2).decode())
    path = write_config(
        tmp_path,
        "encryption:\n  active: k2\n  keys:\n    k1: {file: k1.key}\n"
        "    k2: {env: FERRYMAN_TEST_K2}\n",
    )
    keys = configured_keys(path)
    assert keys is not None and keys.active == "k2"
    assert dict(keys.keys) == {"k1": K1, "k2": K2}
    assert K1.hex() not in repr(keys)
    converter = configured_converter(path)
    assert isinstance(converter.payload_codec, AESGCMCodec)
    (sealed,) = await converter.encode([Marker(text="x")])
    assert sealed.metadata[KEY_ID] == b"k2"
    assert await converter.decode([sealed], [Marker]) == [Marker(text="x")]
    assert data_converter(None) is DATA_CONVERTER


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ("  active: k9\n  keys:\n    k1: {env: X}\n", "active key 'k9' is not among keys"),
        ("  active: k1\n  keys:\n    k1: {env: X, file: y}\n", "exactly one of 'file' or 'env'"),
        ("  active: k1\n  keys:\n    k1: {file: nowhere.key}\n", "cannot read"),
        ("  active: k1\n  keys:\n    k1: {env: FERRYMAN_TEST_UNSET_KEY}\n", "is not set"),
        ("  active: k1\n  keys:\n    k1: {env: FERRYMAN_TEST_SHORT_KEY}\n", "expected 32 bytes"),
    ],
)
def test_a_bad_key_is_one_line_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, section: str, problem: str
) -> None:
    monkeypatch.delenv("FERRYMAN_TEST_UNSET_KEY", raising=False)
    monkeypatch.setenv("FERRYMAN_TEST_SHORT_KEY", base64.b64encode(b"too short").decode())
    path = write_config(tmp_path, "encryption:\n" + section)
    with pytest.raises(IdentityError, match=problem) as error:
        configured_keys(path)
    assert "\n" not in str(error.value)


def test_ferryman_dev_points_the_web_ui_at_the_codec_only_when_encrypting(
    ferryman_home: Path,
) -> None:
    from ferryman.devstack.stack import codec_endpoint_args

    assert codec_endpoint_args(7490) == []
    write_config(ferryman_home, "encryption:\n  active: k1\n  keys:\n    k1: {env: X}\n")
    assert codec_endpoint_args(7491) == ["--ui-codec-endpoint", "http://127.0.0.1:7491/codec"]
