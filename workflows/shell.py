"""The one process shell: every process workflow is a decider inside it.

What it does for every process, so a process adds only its decider and the few lines that say
when to wait and what to start:
- decide → append to the event store with the expected version → evolve, serialised by a lock;
- the policy is the worker's, asked once at the start and kept in the history (a client that starts
  a workflow cannot choose the rules it runs under);
- a person's command is believed only with proof: it is a `SignedCommand`, checked by the identity
  activity (signature, this process, fresh, single use, an active user whose roles come from the
  directory), and its time is the workflow's. An unproven, forged, replayed or expired command is
  refused and the refusal recorded as a `command.refused` event. Internal commands (check results,
  platform outcomes, timers) are not person commands and never parse from outside;
- one typed refusal across Temporal: `ApplicationError(type="Refused")` whose details are a
  `Refusal` (kind, rule, field), the same from a validator or a handler;
- handler hygiene: a workflow returns only once every handler has finished.

Runs started before signed commands (`SIGNED_COMMANDS` not patched) keep their recorded behaviour
on replay: commands as plain models with the actor in them, the policy from the start input.
"""

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from activities.eventstore import Appended
    from activities.identity import AuthenticateRequest
    from activities.notify import Notification
    from domain.attention import NeedsAttention, Resumed
    from domain.commands import (
        Actor,
        Authenticated,
        Authentication,
        CommandRefused,
        SignedCommand,
        envelope,
        person_command,
    )
    from domain.decider import Decider
    from domain.durations import format_duration
    from domain.errors import DomainError, Unauthenticated, refusal_of
    from domain.events import DomainEvent, EventMetadata
    from domain.policy import Policy
    from domain.roles import Role
    from domain.rules import RuleId
    from workflows import search_attributes as sa
    from workflows.contracts import Decision
    from workflows.recording import (
        ACTIVITY_TIMEOUT,
        ATTENTION_RETRY_AT_MOST,
        ATTENTION_RETRY_EVERY,
        IDENTITY_RETRY,
        LOCAL_ACTIVITIES,
        NOTIFY_RETRY,
        STEP_RETRY,
        append_request,
    )

S = TypeVar("S", bound=BaseModel)
T = TypeVar("T")
Parse = Callable[[Any], BaseModel]
"""How a process reads one kind of person's command (e.g. `Review.model_validate`)."""

SIGNED_COMMANDS = "signed-commands"
"""Runs started from here on take people's commands only signed, and the worker's policy."""
SIGNED_DECISIONS = "signed-decisions"
"""An older run, still open, refuses each unsigned `decision` signal from here on (and records it)."""
SIGNED_MESSAGES = "signed-messages"
"""An older inquiry, still open, refuses each unsigned `user_wrote` signal from here on."""
ATTENTION = "needs-attention"
"""A step that keeps failing flags the process and is tried again (before: retried without end, or
the run failed on a refused append)."""
CONTINUE_AS_NEW = "continue-as-new"
"""A run whose history grew long continues as a new run (before: it grew without bound)."""
HISTORY_LIMIT = 2000
"""Events in one run's history before it continues as new, well under Temporal's 51,200 limit and
the size at which replaying it on a worker becomes slow (a technical bound, not a rule's)."""
FAILED_IN_DOUBT = "failed-in-doubt"
"""A publish or reply whose attempts ran out for an unclassified reason is in doubt (before: failed)."""
LOCAL_STEPS = "local-steps"
"""The policy, the calendar and the identity check run as local activities (`LOCAL_ACTIVITIES`;
before: activities through the server, four round trips more per inquiry)."""
REFUSED = "Refused"
"""The one ApplicationError type of a refusal; its details are a `Refusal`."""


def refusal(error: DomainError) -> ApplicationError:
    """A domain refusal as the update failure every caller reads the same way (no message parsing)."""
    return ApplicationError(
        error.message, refusal_of(error).model_dump(mode="json"), type=REFUSED, non_retryable=True
    )


def policy_digest(policy: Policy) -> str:
    text = json.dumps(policy.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


class Process(Generic[S]):
    """Base of every process workflow: its state, its policy, its record, its people's commands."""

    decider: ClassVar[Decider[Any]]

    def __init__(self) -> None:
        self.state: S = self.decider.initial()
        self.policy = Policy()
        self.policy_digest: str | None = None
        self.signed = True
        self.appended = 0
        self.lock = asyncio.Lock()
        self.changes = 0
        self.decisions: list[Decision] = []
        self.unsigned_signals = 0
        self.failing = 0
        """Steps flagged as failing right now (`NeedsAttention` is lowered when none is left)."""
        self.local = False
        """Whether this run asks `LOCAL_ACTIVITIES` locally (decided once, at its start)."""
        self.nonces: set[str] = set()
        """The nonces of the commands this run took (see `_authenticate`)."""

    # --- start and finish ---------------------------------------------------------------------

    async def begin(self, given: Policy | None) -> None:
        """Adopt the worker's policy (runs from before signed commands: the one they were given)."""
        self.adopt_patches()
        if not self.signed and given is not None:
            self.policy = given
            return
        self.policy = await self.step(
            "policy", "policy.in_force", (), Policy, RuleId.ACCOUNTABLE, record=False
        )  # nothing is recorded before the process's first fact
        self.policy_digest = policy_digest(self.policy)

    def carry_on(self, carried_appended: int, carried_policy: Policy) -> None:
        """Go on from the run this one continues: its stream version and its policy (not the worker's:
        a process keeps the rules it started under)."""
        self.adopt_patches()
        self.appended = carried_appended
        self.policy = carried_policy
        self.policy_digest = policy_digest(carried_policy)

    def adopt_patches(self) -> None:
        """Which deploys' behaviour this run has, asked once at its start.

        A run with `LOCAL_STEPS` started after every earlier start-of-run patch was deployed, so it
        does not ask for those again: each patch asked is a marker and a search attribute write
        (`TemporalChangeVersion`) in every new run's history.
        """
        self.local = workflow.patched(LOCAL_STEPS)
        self.signed = self.local or workflow.patched(SIGNED_COMMANDS)

    def history_is_long(self) -> bool:
        """Time to continue as new: the history passed `HISTORY_LIMIT` or the server suggests it.

        Only asked between steps, with nothing in flight; behind a patch so a run from before replays.
        """
        info = workflow.info()
        long = info.get_current_history_length() > HISTORY_LIMIT or info.is_continue_as_new_suggested()
        return long and not self.lock.locked() and workflow.patched(CONTINUE_AS_NEW)

    async def finish(self) -> None:
        """Let every update and signal handler finish before the run returns (its answer is not lost)."""
        await workflow.wait_condition(workflow.all_handlers_finished)

    # --- decide, record, evolve ---------------------------------------------------------------

    def rules_of(self, events: Sequence[DomainEvent]) -> tuple[RuleId, ...]:
        """The rule ids the events are recorded under (each process says which)."""
        raise NotImplementedError

    def after_recording(self, events: Sequence[DomainEvent]) -> None:
        """What a process updates once a command was decided (its search attributes, say)."""

    async def handle(self, command: BaseModel, channel: str | None = None) -> list[DomainEvent]:
        """decide → append (expected version) → evolve, under the lock; the events, or a DomainError."""
        return await self.handle_all([command], channel)

    async def handle_all(
        self, commands: Sequence[BaseModel], channel: str | None = None
    ) -> list[DomainEvent]:
        """Several commands, each decided on the state the ones before it make, recorded in one
        append (one round trip, all or nothing); the events, or the first DomainError (nothing
        recorded then)."""
        async with self.lock:
            after, batches = self.state, []
            for command in commands:
                events = self.decider.decide(command, after, self.policy)
                for event in events:
                    after = self.decider.evolve(after, event)
                if events:
                    batches.append((events, self.decided_by(command, channel, events)))
            if batches:
                await self._append(batches)
            decided = [e for events, _ in batches for e in events]
            self.after_recording(decided)
            return decided

    async def record(self, events: Sequence[DomainEvent], actor: str, rules: tuple[RuleId, ...]) -> None:
        """Record facts that are not a command's decision (what a platform or a user said)."""
        async with self.lock:
            await self._append([(events, self.told_by(actor, rules))])

    async def record_then_handle(
        self, facts: Sequence[DomainEvent], actor: str, rules: tuple[RuleId, ...], command: BaseModel
    ) -> list[DomainEvent]:
        """Facts and the process's own command on them, decided on the state the facts make, and
        recorded in one append: atomic, so the store never holds the facts without the answer (an
        inquiry without its clock), and one round trip instead of two."""
        async with self.lock:
            after = self.state
            for fact in facts:
                after = self.decider.evolve(after, fact)
            events = self.decider.decide(command, after, self.policy)
            await self._append(
                [(facts, self.told_by(actor, rules)), (events, self.decided_by(command, None, events))]
            )
            self.after_recording([*facts, *events])
            return events

    def told_by(self, actor: str, rules: tuple[RuleId, ...]) -> EventMetadata:
        return EventMetadata(actor=actor, rule_ids=rules, policy=self.policy_digest)

    def decided_by(
        self, command: BaseModel, channel: str | None, events: Sequence[DomainEvent]
    ) -> EventMetadata:
        actor = getattr(command, "actor", None)
        return EventMetadata(
            actor=actor.id if actor else "mediaops",
            role=sorted(actor.roles)[0] if actor and actor.roles else None,
            channel=channel,
            rule_ids=self.rules_of(events),
            policy=self.policy_digest,
        )

    async def _append(self, batches: Sequence[tuple[Sequence[DomainEvent], EventMetadata]]) -> None:
        """One append of the batches' events, each with its batch's metadata, then evolve."""
        first = batches[0][1]
        rule = first.rule_ids[0] if first.rule_ids else RuleId.ACCOUNTABLE
        request = append_request(batches, self.appended)
        await self.persist(
            "recording",
            lambda: self.ask("eventstore.append", [request], Appended, STEP_RETRY),
            rule,
            record=False,
        )
        for events, _ in batches:
            self.appended += len(events)
            for event in events:
                self.state = self.decider.evolve(self.state, event)
        self.changes += 1

    async def step(
        self,
        name: str,
        activity: str,
        args: Sequence[Any],
        result_type: type[T],
        rule: RuleId,
        *,
        record: bool = True,
    ) -> T:
        """One activity the process cannot go on without (the policy, the checks, the calendar):
        a bounded round of attempts (`STEP_RETRY`), and if they fail, `persist`'s flag and retry."""
        return await self.persist(
            name, lambda: self.ask(activity, args, result_type, STEP_RETRY), rule, record=record
        )

    async def ask(self, activity: str, args: Sequence[Any], result_type: type[T], retry: RetryPolicy) -> T:
        """One activity call of the shell's: local for a short read of the worker's own state; its
        failure is an `ActivityError` either way."""
        local = self.local and activity in LOCAL_ACTIVITIES
        execute = workflow.execute_local_activity if local else workflow.execute_activity
        try:
            answer: T = await execute(
                activity, args=args, result_type=result_type,
                start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=retry,
            )  # fmt: skip
        except FailureError as exc:
            if isinstance(exc, ActivityError):
                raise
            # A local activity's failure arrives as its bare cause: wrapped here as a remote one's
            # is, so every caller (`persist`, the identity check) handles the two alike.
            raise ActivityError(
                f"{activity} failed", scheduled_event_id=0, started_event_id=0, identity="",
                activity_type=activity, activity_id="", retry_state=None,
            ) from exc  # fmt: skip
        return answer

    async def persist(
        self, step: str, call: Callable[[], Awaitable[T]], rule: RuleId, *, record: bool = True
    ) -> T:
        """A step the process cannot go on without, asked until it answers, and never in silence.

        Each round of attempts is bounded by the activity's retry policy. A step that still fails
        flags the process (`NeedsAttention`, for ops in the Temporal UI), records which step failed
        and the failure's type (`record`: not when recording itself is what fails), tells the
        operations manager, and is tried again after `ATTENTION_RETRY_EVERY`, then ever less often (a
        data error may never mend: its history must not grow by the hour); when it answers, the
        flag is lowered and the resumption recorded. A workflow whose task or activity fails in a
        loop, or a run that fails over a dependency's outage, is what this replaces.
        """
        flagged, pause = False, ATTENTION_RETRY_EVERY
        while True:
            try:
                answer = await call()
            except ActivityError as exc:
                if not workflow.patched(ATTENTION):
                    raise  # a run from before retried or failed here, as its history says
                if not flagged:
                    flagged = True
                    self.failing += 1
                    await self._needs_attention(step, failure_type(exc), rule, record=record)
                await workflow.sleep(pause)
                pause = min(pause * 2, ATTENTION_RETRY_AT_MOST)
                continue
            if flagged:
                self.failing -= 1
                if not self.failing:  # no other step of this process is still failing
                    workflow.upsert_search_attributes([sa.NEEDS_ATTENTION.value_set(False)])
                if record:
                    await self.record([Resumed(step=step, at=workflow.now())], "mediaops", (rule,))
            return answer

    async def _needs_attention(self, step: str, failure: str, rule: RuleId, *, record: bool) -> None:
        workflow.upsert_search_attributes([sa.NEEDS_ATTENTION.value_set(True)])
        workflow.logger.error("%s keeps failing (%s): the process waits for it", step, failure)
        if record:
            await self.record(
                [NeedsAttention(step=step, failure=failure, rule=rule, at=workflow.now())],
                "mediaops",
                (rule,),
            )
        await self.notify(
            Notification(
                kind="attention",
                rule=rule,
                to=Role.OPERATIONS_MANAGER,
                subject=workflow.info().workflow_id,
                message=f"{workflow.info().workflow_id}: {step} keeps failing ({failure}); "
                f"it is tried again in {format_duration(ATTENTION_RETRY_EVERY)}, then less often",
            )
        )

    async def notify(self, notification: Notification) -> None:
        """Tell people; a chat webhook that is down never holds the process up (H9).

        The fact (reminded, escalated, breached) is recorded before this. Delivery gets a few
        attempts, then the process goes on: the failure is in the history and the worker's log.
        """
        try:
            await workflow.execute_activity(
                "notify.send",
                notification,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=NOTIFY_RETRY,
            )
        except ActivityError as exc:
            workflow.logger.warning("notification not delivered: %s (%s)", notification.kind, exc.cause)

    # --- people's commands ----------------------------------------------------------------------

    def validate(self, message: object, parse: Parse) -> None:
        """An update's validator: refuse at once what the rules refuse, nothing recorded.

        A signed command is tried against the state with the roles it was issued with (the handler
        checks the proof and asks the directory again); it must be the update's own command. An
        unsigned one goes on to the handler, which refuses it and records the refusal; in a run from
        before signed commands it is refused here, since that run's handler would still believe it.
        """
        signed = envelope(message)
        try:
            if signed is None:
                if not self.signed:
                    raise Unauthenticated(RuleId.ACCOUNTABLE, "a command must be signed (see README: Ops)")
                return
            actor = Actor(id=signed.actor, roles=frozenset(signed.roles))
            command = person_command(parse, signed.command, actor, workflow.now())
            self.decider.decide(command, self.state, self.policy)
        except DomainError as exc:
            raise refusal(exc) from None

    async def command_of(
        self, message: object, parse: Parse, *, legacy: Parse | None = None, signal: bool = False
    ) -> tuple[BaseModel, str | None]:
        """The domain command a person's message asks for (what `parse` takes), with its channel.

        Its actor is proven and its time is the workflow's; anything else is refused with a
        `Refused` ApplicationError after the refusal is recorded. A plain command recorded by a run
        from before signed commands is taken as it was then (`legacy`, else `parse`).
        """
        signed = envelope(message)
        if signed is None and not self.signed and not (signal and self.refuses_unsigned(SIGNED_DECISIONS)):
            return (legacy or parse)(message), None
        try:
            if signed is None:
                raise Unauthenticated(
                    RuleId.ACCOUNTABLE, "not a signed command: people's commands are signed (see README: Ops)"
                )
            proven = await self._authenticate(signed)
            command = person_command(parse, signed.command, proven.actor, workflow.now())
        except DomainError as exc:
            await self.refused(message, exc)
            raise refusal(exc) from None
        return command, proven.channel

    def refuses_unsigned(self, patch: str) -> bool:
        """In a run from before signed commands: whether this unsigned signal is refused.

        Each signal has a patch of its own: one received before the deploy replays as it was
        taken then, and every one received since is refused, also once the run has replayed an
        older one (a single patch would keep its first answer for the rest of the run).
        """
        self.unsigned_signals += 1
        return workflow.patched(f"{patch}-{self.unsigned_signals}")

    async def refuse(self, message: object, error: DomainError, channel: str | None) -> ApplicationError:
        """The refusal to raise; one of a proven command is recorded first (a run from before, which
        did not record, replays as it was)."""
        if channel is not None:
            await self.refused(message, error)
        return refusal(error)

    async def _authenticate(self, signed: Any) -> Authenticated:
        """The identity check of a signed command. Where it is local, this run refuses a nonce it
        has taken before: a local check claims the nonce for the run (its sequence number may
        change when its workflow task is retried), so the run itself keeps each nonce single use.
        It is held before the check, so two copies at once are one, and let go if the check
        refuses the command (a forged copy never uses up the real one's nonce)."""
        held = self.local and isinstance(signed, SignedCommand)
        if held:
            if signed.nonce in self.nonces:
                raise Unauthenticated(RuleId.ACCOUNTABLE, "the command was used before: a replay is refused")
            self.nonces.add(signed.nonce)
        try:
            answer = await self.ask(
                "identity.authenticate", [AuthenticateRequest(command=signed)], Authentication, IDENTITY_RETRY
            )
        except ActivityError:
            answer = Authentication(refusal="the user directory could not be asked; try again")
        if answer.authenticated is None:
            if held:
                self.nonces.discard(signed.nonce)
            raise Unauthenticated(RuleId.ACCOUNTABLE, answer.refusal)
        return answer.authenticated

    async def decide_for_person(
        self, message: object, parse: Parse, *, legacy: Parse | None = None, signal: bool = False
    ) -> list[DomainEvent]:
        """A person's command, proven, decided and recorded; a refusal is recorded and raised."""
        command, channel = await self.command_of(message, parse, legacy=legacy, signal=signal)
        actor = getattr(command, "actor", None)
        name = type(command).__name__
        try:
            events = await self.handle(command, channel)
        except DomainError as exc:
            if channel is None:  # a plain command of a run from before: listed, as it was then
                self.decisions.append(Decision(command=name, actor=actor.id if actor else None,
                                               accepted=False, detail=str(exc)))  # fmt: skip
            raise await self.refuse(message, exc, channel) from None
        self.decisions.append(Decision(command=name, actor=actor.id if actor else None, accepted=True))
        return events

    async def refused(self, message: object, error: DomainError) -> None:
        """Keep the refusal in the process's record: who claimed to send what, and why it was refused."""
        signed = envelope(message)
        fields = signed.command if signed is not None else message
        kind = fields.get("kind") if isinstance(fields, dict) else None
        claimed = signed.actor if signed is not None else _claimed_actor(message)
        refused = CommandRefused(
            command=str(kind or "unknown")[:64],
            claimed_actor=claimed,
            channel=signed.channel if signed is not None else None,
            refusal=error.kind,
            rule=error.rule,
            reason=error.message,
            at=workflow.now(),
        )
        await self.record([refused], actor=claimed or "unknown", rules=(RuleId.ACCOUNTABLE, error.rule))
        detail = f"{error.rule}: {error.message}"
        self.decisions.append(Decision(command=refused.command, actor=claimed, accepted=False, detail=detail,
                                       refusal=refusal_of(error)))  # fmt: skip


def failure_type(exc: ActivityError) -> str:
    """The type of an activity's failure (its message may quote a request: it stays in the history)."""
    cause = exc.cause
    if isinstance(cause, ApplicationError) and cause.type:
        return cause.type
    return type(cause).__name__ if cause is not None else "ActivityError"


def never_sent(exc: ActivityError) -> bool:
    """Whether a publish or reply that failed for good provably never reached the platform.

    Only a classified platform failure (`Platform:*`: the platform refused, or was never reached
    and the claim released) says so. Anything else (a timeout of the last attempt, the claim's own
    database failing after the call, an unforeseen error) may have come after the call went out.
    """
    return failure_type(exc).startswith("Platform:")


def _claimed_actor(message: object) -> str | None:
    """Who an unsigned message claims to be from (kept as a claim: it proves nothing)."""
    actor = message.get("actor") if isinstance(message, dict) else None
    claimed = actor.get("id") if isinstance(actor, dict) else actor
    return str(claimed)[:64] if claimed is not None else None
