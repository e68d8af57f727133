"""The register: owners with history, fixed columns, action items and who may change them."""

from datetime import UTC, date, datetime, timedelta

import pytest

from domain import department as d
from domain.commands import Actor
from domain.errors import DomainError, Forbidden, Invalid
from domain.platforms import Platform
from domain.policy import Policy
from domain.roles import Role

POLICY = Policy()
AT = datetime(2026, 12, 2, 2, tzinfo=UTC)
MANAGER = Actor(id="wang.manager", roles=frozenset({Role.OPERATIONS_MANAGER}))
WRITER = Actor(id="li.web", roles=frozenset({Role.CONTENT_SPECIALIST}))


def apply(state: d.Register, command: object) -> d.Register:
    for event in d.DEPARTMENT.decide(command, state, POLICY):  # type: ignore[arg-type]
        state = d.DEPARTMENT.evolve(state, event)
    return state


def assign(subject: str, user: str, starts_on: date, actor: Actor = MANAGER) -> d.AssignOwner:
    return d.AssignOwner(actor=actor, subject=subject, user=user, starts_on=starts_on, at=AT)


def test_an_owner_holds_from_the_first_day_and_a_later_assignment_takes_over() -> None:
    state = apply(d.Register(), assign("website", "li.web", date(2026, 11, 30)))
    state = apply(state, assign("website", "zhao.web", date(2026, 12, 7)))
    state = apply(state, assign("website", "qian.web", date(2026, 12, 7)))  # a correction, same day
    assert state.owner_on("website", date(2026, 11, 29)) is None
    assert state.owner_on("website", date(2026, 12, 6)) == "li.web"
    assert state.owner_on("website", date(2026, 12, 7)) == "qian.web"


@pytest.mark.parametrize("subject", ["myspace", "column:expert-talk", "miniprogram:games"])
def test_only_a_subject_of_the_policy_or_a_declared_column_gets_an_owner(subject: str) -> None:
    with pytest.raises(Invalid) as refused:
        apply(d.Register(), assign(subject, "li.web", date(2026, 12, 7)))
    assert refused.value.field == "subject"
    declared = apply(
        d.Register(),
        d.DeclareColumn(
            actor=MANAGER, column_id="expert-talk", name="专家说", platform=Platform.WECHAT, at=AT
        ),
    )
    assert (
        apply(declared, assign("column:expert-talk", "li.web", date(2026, 12, 7))).owner_on(
            "column:expert-talk", date(2026, 12, 7)
        )
        == "li.web"
    )


def test_only_the_operations_manager_changes_the_register() -> None:
    with pytest.raises(DomainError):
        apply(d.Register(), assign("website", "li.web", date(2026, 12, 7), actor=WRITER))


def test_an_action_item_is_done_by_its_owner_and_overdue_after_its_day() -> None:
    record = d.RecordAction(
        actor=MANAGER,
        action_id="a1",
        report_id="weekly-2026-W48-x",
        text="补齐",
        owner="li.web",
        due=date(2026, 12, 4),
        at=AT,
    )
    state = apply(d.Register(), record)
    assert apply(state, record) == state  # the same item sent again: nothing new
    action = state.actions["a1"]
    assert d.action_status(action, AT, POLICY) == "not_done"
    assert d.action_status(action, AT + timedelta(days=3), POLICY) == "overdue"
    other = Actor(id="zhao.web", roles=frozenset({Role.CONTENT_SPECIALIST}))
    with pytest.raises(Forbidden):
        apply(state, d.CompleteAction(actor=other, action_id="a1", at=AT))
    done = apply(state, d.CompleteAction(actor=WRITER, action_id="a1", at=AT + timedelta(hours=1)))
    assert d.action_status(done.actions["a1"], AT + timedelta(days=3), POLICY) == "done"
    assert d.action_status(done.actions["a1"], AT, POLICY) == "not_done"  # as it stood before
    with pytest.raises(Invalid):
        apply(d.Register(), record.model_copy(update={"due": date(2026, 12, 1)}))  # due in the past
