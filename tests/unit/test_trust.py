"""The trust primitives, pure: signed commands, the codec, the keys, separation of duties."""

import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import TypeAdapter
from temporalio.api.common.v1 import Payload

from domain import articles as a
from domain.commands import envelope, person_command
from domain.errors import Forbidden, Invalid, PermissionDenied
from domain.roles import Role
from domain.text import printable
from mediaops.codec import UNREADABLE, EncryptionCodec
from mediaops.keys import Keyring, Keys, KeysError, load_keys, write_keys
from mediaops.signing import CommandSigner
from tests.unit.test_articles import BOSS, MANAGER, NOW, PROMOTER, WRITER, run, submitted

PERSON = TypeAdapter(a.PersonCommand)
SIGNER = CommandSigner(Keyring.generate("s"))


def sign(**command: object) -> dict[str, object]:
    return SIGNER.sign(
        process="article-a1", actor=MANAGER.id, roles=MANAGER.roles, command=command, channel="api"
    ).model_dump(mode="json")


def test_a_signature_covers_every_field() -> None:
    good = sign(kind="review", version=1, decision="approve")
    assert SIGNER.verifies(envelope(good))  # type: ignore[arg-type]
    for change in (
        {"process": "article-other"},
        {"actor": "someone.else"},
        {"roles": ["general_manager"]},
        {"command": {"kind": "review", "version": 2, "decision": "approve"}},
        {"channel": "ops"},
        {"issued_at": (datetime.now(UTC) + timedelta(minutes=1)).isoformat()},
        {"nonce": "x" * 24},
        {"mac": "é" * 43},  # not base64url: refused, not a TypeError from compare_digest
    ):
        assert not SIGNER.verifies(envelope({**good, **change})), change  # type: ignore[arg-type]
    other_key = CommandSigner(Keyring.generate("s"))
    assert not other_key.verifies(envelope(good))  # type: ignore[arg-type]


def test_a_rotated_keyring_still_verifies_what_the_old_key_signed() -> None:
    ring = Keyring.generate("s")
    old = CommandSigner(ring).sign(process="p", actor="x", roles=[], command={}, channel="api")
    assert CommandSigner(ring.rotated()).verifies(old)


def test_only_person_commands_parse_and_their_actor_and_time_are_not_the_senders() -> None:
    command = person_command(
        PERSON.validate_python, {"kind": "review", "version": 1, "decision": "approve"}, MANAGER, NOW
    )
    assert isinstance(command, a.Review)
    assert (command.actor, command.at) == (MANAGER, NOW)
    for internal in ("record_checks", "record_outcome", "start_publishing", "remind", "escalate", "submit"):
        with pytest.raises(Invalid):
            person_command(PERSON.validate_python, {"kind": internal, "version": 1}, MANAGER, NOW)
    for reserved in ({"actor": {"id": "x", "roles": []}}, {"at": "2020-01-01T00:00:00Z"}):
        with pytest.raises(Invalid, match="may not set"):
            person_command(PERSON.validate_python, {"kind": "withdraw", **reserved}, WRITER, NOW)
    assert envelope({"kind": "review"}) is None
    assert envelope("not even an object") is None


def test_an_author_cannot_approve_their_own_post() -> None:
    own = run(
        a.initial_state(), a.Submit(article_id="a1", actor=MANAGER, content=submitted().content, at=NOW)
    )  # type: ignore[arg-type]
    own = run(own, a.RecordChecks(version=1, wordlist_version="w", problems=[], at=NOW))
    with pytest.raises(Forbidden, match="own post"):
        a.decide(a.Review(actor=MANAGER, version=1, decision="approve", at=NOW), own, a.Policy())


def test_one_person_cannot_give_both_approvals_of_a_version() -> None:
    both = a.Actor(id="zhou.both", roles=frozenset({Role.OPERATIONS_MANAGER, Role.GENERAL_MANAGER}))
    state = run(
        submitted(involves_company_project=True), a.Review(actor=both, version=1, decision="approve", at=NOW)
    )
    assert state.waiting_on is Role.GENERAL_MANAGER
    with pytest.raises(Forbidden, match="two approvals"):
        a.decide(a.Confirm(actor=both, version=1, at=NOW), state, a.Policy())
    assert run(state, a.Confirm(actor=BOSS, version=1, at=NOW)).fully_approved


def test_only_the_author_or_the_manager_changes_a_post() -> None:
    state = submitted()
    for command in (
        a.Withdraw(actor=PROMOTER, at=NOW),
        a.Revise(actor=PROMOTER, version=1, content=state.content, at=NOW),  # type: ignore[arg-type]
        a.Schedule(actor=PROMOTER, publish_at=NOW + timedelta(days=1), at=NOW),
    ):
        with pytest.raises(PermissionDenied) as refused:
            a.decide(command, state, a.Policy())
        assert refused.value.permission == "article.change_others"
    assert a.decide(a.Withdraw(actor=WRITER, at=NOW), state, a.Policy())
    assert a.decide(a.Withdraw(actor=MANAGER, at=NOW), state, a.Policy())


async def test_the_codec_seals_opens_rotates_and_refuses_what_it_cannot_open() -> None:
    ring = Keyring.generate("c")
    plain = Payload(metadata={"encoding": b"json/plain"}, data="请问周末营业吗？".encode())
    [sealed] = await EncryptionCodec(ring).encode([plain])
    assert "周末".encode() not in sealed.SerializeToString()
    assert sealed.metadata["encryption-key-id"] == ring.current[0].encode()
    rotated = ring.rotated()
    assert await EncryptionCodec(rotated).decode([sealed]) == [plain]  # an old payload still opens
    [newer] = await EncryptionCodec(rotated).encode([plain])
    assert newer.metadata["encryption-key-id"] == rotated.current[0].encode()
    assert await EncryptionCodec(ring).decode([plain]) == [plain]  # written before encryption
    [unknown] = await EncryptionCodec(Keyring.generate("c")).decode([sealed])
    assert "no codec key" in json.loads(unknown.data)[UNREADABLE]  # never an exception: see UNREADABLE
    tampered = Payload(metadata=dict(sealed.metadata), data=sealed.data[:-1] + bytes([sealed.data[-1] ^ 1]))
    for damaged in (tampered, Payload(metadata=dict(sealed.metadata), data=b"short")):
        [opened] = await EncryptionCodec(ring).decode([damaged])
        assert "does not open" in json.loads(opened.data)[UNREADABLE]


def test_the_keys_file_is_owner_only_and_its_keys_are_named(tmp_path: Path) -> None:
    path = tmp_path / "keys.toml"
    keys = Keys.generate()
    write_keys(path, keys)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_keys(path, None, None) == keys
    os.chmod(path, 0o644)
    with pytest.raises(KeysError, match="readable by others"):
        load_keys(path, None, None)
    with pytest.raises(KeysError, match="does not exist"):
        load_keys(tmp_path / "missing.toml", None, None)
    with pytest.raises(KeysError, match="not `id:base64url`"):
        load_keys(path, "no-colon", "s1:" + "A" * 43)
    with pytest.raises(KeysError, match="bytes, not 32"):
        load_keys(path, "c1:AAAA", "s1:AAAA")


def test_whoever_revised_a_version_cannot_approve_it() -> None:
    state = submitted()
    assert state.content is not None
    rewritten = state.content.model_copy(update={"body": "<p>经理改写的正文。</p>"})
    state = run(state, a.Revise(actor=MANAGER, version=1, content=rewritten, at=NOW))
    state = run(state, a.RecordChecks(version=2, wordlist_version="w", problems=[], at=NOW))
    assert (state.author, state.written_by) == (WRITER.id, MANAGER.id)
    with pytest.raises(Forbidden, match="revised"):
        a.decide(a.Review(actor=MANAGER, version=2, decision="approve", at=NOW), state, a.Policy())


def test_text_people_type_refuses_control_characters_and_delivered_text_keeps_them_visible() -> None:
    with pytest.raises(ValueError, match="U\\+0000"):
        a.Review(actor=MANAGER, version=1, decision="approve", comment="ok\u0000", at=NOW)
    assert a.Review(actor=MANAGER, version=1, decision="approve", comment="第一行\n第二行\t", at=NOW)
    assert printable("在吗\u0000\u001b[31m") == "在吗\ufffd\ufffd[31m"
