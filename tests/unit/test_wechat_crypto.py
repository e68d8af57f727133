"""WeChat callback security against the official vector and an independent AES implementation."""

import base64
import os
import struct

import pytest
from Crypto.Cipher import AES  # pycryptodome: an implementation independent of ours (cryptography)

from activities.platforms.wechat_crypto import (
    CallbackRejected,
    WeChatCipher,
    parse_xml,
    signature,
    signature_matches,
    to_xml,
)

KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
OLD_KEY = "ZYXWVUTSRQPONMLKJIHGFEDCBAabcdefghijklmnopq"
APPID = "wx5823bf96d3bd56c7"


def test_official_signature_vector() -> None:
    assert signature("AAAAA", "1714037059", "486452656") == "899cf89e464efb63f54ddac96b0a0a235f53aa78"
    assert signature_matches("899cf89e464efb63f54ddac96b0a0a235f53aa78", "AAAAA", "1714037059", "486452656")
    assert not signature_matches("0" * 40, "AAAAA", "1714037059", "486452656")


def test_a_non_ascii_signature_is_a_mismatch_not_an_error() -> None:
    """Issue 10's fuzzer: `?signature=é` made compare_digest raise, and the webhook answer a 500."""
    assert not signature_matches("é" * 40, "AAAAA", "1714037059", "486452656")
    assert not signature_matches("", "AAAAA", "1714037059", "486452656")


def reference_encrypt(message: bytes, key_text: str, appid: str) -> str:
    """platforms.md's recipe, written from scratch on pycryptodome."""
    key = base64.b64decode(key_text + "=")
    plain = os.urandom(16) + struct.pack(">I", len(message)) + message + appid.encode()
    pad = 32 - len(plain) % 32
    plain += bytes([pad]) * pad
    return base64.b64encode(AES.new(key, AES.MODE_CBC, key[:16]).encrypt(plain)).decode()


def reference_decrypt(encrypted: str, key_text: str) -> tuple[bytes, str]:
    key = base64.b64decode(key_text + "=")
    plain = AES.new(key, AES.MODE_CBC, key[:16]).decrypt(base64.b64decode(encrypted))
    plain = plain[: -plain[-1]]
    (length,) = struct.unpack(">I", plain[16:20])
    return plain[20 : 20 + length], plain[20 + length :].decode()


@pytest.mark.parametrize(
    "message", [b"<xml>hi</xml>", "<xml><Content>你好，请问几点开门？</Content></xml>".encode(), b"x" * 1000]
)
def test_aes_round_trip_both_ways_with_an_independent_implementation(message: bytes) -> None:
    ours = WeChatCipher([KEY], APPID)
    assert reference_decrypt(ours.encrypt(message), KEY) == (message, APPID)
    assert ours.decrypt(reference_encrypt(message, KEY, APPID)) == message


def test_blocks_are_padded_to_32_bytes() -> None:
    raw = base64.b64decode(WeChatCipher([KEY], APPID).encrypt(b"a", random16=bytes(16)))
    assert len(raw) % 32 == 0


def test_the_previous_key_still_decrypts_during_rotation() -> None:
    sent_with_old = WeChatCipher([OLD_KEY], APPID).encrypt(b"<xml>old</xml>")
    rotated = WeChatCipher([KEY, OLD_KEY], APPID)
    assert rotated.decrypt(sent_with_old) == b"<xml>old</xml>"
    assert reference_decrypt(rotated.encrypt(b"new"), KEY)[0] == b"new"


def test_another_accounts_message_is_refused() -> None:
    other = WeChatCipher([KEY], "wx_other_account").encrypt(b"<xml/>")
    with pytest.raises(CallbackRejected):
        WeChatCipher([KEY], APPID).decrypt(other)
    with pytest.raises(CallbackRejected):
        WeChatCipher([KEY], APPID).decrypt("not base64 at all!")


def test_xml_refuses_entities_and_forces_lists() -> None:
    bomb = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><xml><A>&a;</A></xml>'
    with pytest.raises(CallbackRejected):
        parse_xml(bomb)
    one = parse_xml("<xml><d><item><i>1</i></item></d></xml>", force_list=["item"])
    assert one == {"d": {"item": [{"i": "1"}]}}
    assert parse_xml(to_xml({"Content": "a]]>b", "CreateTime": 5})) == {"Content": "a]]>b", "CreateTime": "5"}
