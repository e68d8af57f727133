"""What a promotion's and a major event's workflow share: an obligation kept by linked articles.

A promotion (R-PROMO-3D) and a write-up (R-NEWS-3WD) are each kept when an article linked to them
is published on every required platform by a deadline. Both workflows are their decider inside the
process shell (workflows/shell.py) and this loop: follow the linked articles, remind, judge at the
deadline, take people's commands (signed updates), and close when nothing more can change.

How an article tells its obligation that it moved: it sends a bare wake-up signal (its id, never a
fact, workflows/signals.py). The obligation then reads its linked articles from the event store
(activities/announcements.py) and decides what is new; the deciders take each fact once. It also
reads them at its start (an article submitted, even published, before the obligation existed) and
before every reminder and verdict (a wake-up lost while nobody listened), so it is exactly once,
survives restarts of either side, and never believes a signal's word.
"""

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel
from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.announcements import LinkedRequest
    from activities.notify import Notification
    from domain.announcements import Announcement, Obligation, Seen, Tick, commands_for
    from domain.errors import Invalid
    from domain.platforms import Platform
    from domain.roles import Role
    from domain.rules import RuleId
    from workflows import search_attributes as sa
    from workflows.shell import Parse, Process
    from workflows.signals import LINKED_ARTICLE_MOVED

S = TypeVar("S", bound=Obligation)

SEEN: type[list[Seen]] = list[Seen]

WAITING_ON: dict[str, Role | None] = {
    "waiting_on_manager": Role.OPERATIONS_MANAGER,
    "waiting_on_general_manager": Role.GENERAL_MANAGER,
    "publishing": None,
}
"""Who an obligation waits on, by where its least advanced platform is (the rest: its writers)."""


class ObligationProcess(Process[S]):
    """The shared loop; a process says what its link is, its rule, its clock and how it tells people."""

    link: ClassVar[Literal["promotion_id", "writeup_id"]]
    rule: ClassVar[RuleId]
    prefix: ClassVar[str]
    writers: ClassVar[Role]
    """Who writes the article while none is out or it is being drafted."""

    def __init__(self) -> None:
        super().__init__()
        self.woken = False

    # --- what each process says -----------------------------------------------------------------

    def next_due(self) -> datetime | None:
        """When the decider must next decide (`tick`), or None."""
        raise NotImplementedError

    def closes_at(self) -> datetime | None:
        """When nothing more is watched for (a late publication is recorded until then)."""
        raise NotImplementedError

    def over(self) -> bool:
        """Whether the obligation has ended (cancelled, or its watch is over)."""
        raise NotImplementedError

    async def before_waiting(self) -> None:
        """What the process asks before it waits (a write-up: its due time, once per end)."""

    async def tell(self, event: Any) -> None:
        """Tell people what an event means for them (reminders, breaches)."""

    async def tell_role(self, kind: str, rule: RuleId, to: Role, message: str) -> None:
        """Tell a role, and the obligation's owner by name, about this obligation."""
        subject = workflow.info().workflow_id
        await self.notify(
            Notification(kind=kind, rule=rule, to=to, subject=subject, message=message, user=self.state.owner)
        )

    def deadline(self) -> datetime | None:
        """The rule's deadline, while it is still to be judged (the `NextDeadline` ops see)."""
        raise NotImplementedError

    # --- the loop -------------------------------------------------------------------------------

    async def lifetime(self, first: Any, parse: Parse) -> None:
        """The process from its first person's command (the plan, the report) to its end."""
        await self.begin(None)
        try:
            await self.decide_for_person(first, parse)
        except ApplicationError:
            await self.finish()
            return  # an unproven or refused first command: recorded, nothing to keep
        await self.keep()

    def platforms(self) -> dict[Platform, Announcement]:
        return self.state.platforms

    @property
    def key(self) -> str:
        return workflow.info().workflow_id.removeprefix(self.prefix)

    def own(self, key: str, field: str) -> None:
        """A command at a workflow is for that workflow's obligation only."""
        if self.signed and f"{self.prefix}{key}" != workflow.info().workflow_id:
            raise Invalid(self.rule, "the command is for another process", field=field)

    async def keep(self) -> None:
        """Follow the linked articles and keep the clock until the obligation is over, and stays
        over once every handler has finished: a command taken as it ended (an event's end
        corrected, say) opens it again, and the loop goes on for it rather than leave it waiting."""
        await self.catch_up()
        while True:
            await self.until_over()
            if workflow.all_handlers_finished() and self.over():
                return
            await workflow.wait_condition(lambda: workflow.all_handlers_finished() or not self.over())

    async def until_over(self) -> None:
        while not self.over():
            await self.before_waiting()
            times = [t for t in (self.next_due(), self.closes_at()) if t is not None]
            within = max(min(times) - workflow.now(), timedelta(0)) if times else None
            try:
                await workflow.wait_condition(self.changed_since(self.changes), timeout=within)
            except TimeoutError:
                await self.catch_up()  # what is out is read before anything is judged
                await self.decide_and_tell([Tick(at=workflow.now())])
                continue
            if self.woken:
                await self.catch_up()

    def changed_since(self, seen: int) -> Callable[[], bool]:
        return lambda: self.changes != seen or self.woken

    async def catch_up(self) -> None:
        """Read the linked articles from the event store and decide what is new, in one append."""
        self.woken = False
        request = LinkedRequest(link=self.link, key=self.key)
        found = await self.step("linked articles", "announcements.linked", [request], SEEN, self.rule)
        now = workflow.now()
        commands = []
        for seen in found:
            commands += commands_for(self.platforms(), seen, now)
        if commands:
            await self.decide_and_tell(commands)

    async def decide_and_tell(self, commands: Sequence[BaseModel]) -> None:
        for event in await self.handle_all(commands):
            await self.tell(event)

    # --- what ops see -----------------------------------------------------------------------------

    def after_recording(self, events: Sequence[Any]) -> None:
        if events:
            self.publish_search_attributes()

    def rules_of(self, events: Sequence[Any]) -> tuple[RuleId, ...]:
        return (self.rule,)

    def waiting_on(self) -> Role | None:
        """The role the obligation waits on: its least advanced platform's (none once all is out)."""
        stages = [a.stage for a in self.platforms().values() if a.announced_at is None]
        if not stages:
            return None
        if None in stages or "drafting" in stages:
            return self.writers
        for stage, role in WAITING_ON.items():
            if stage in stages:
                return role
        return None  # pragma: no cover - every stage is listed

    def publish_search_attributes(self) -> None:
        deadline, waiting = self.deadline(), self.waiting_on()
        workflow.upsert_search_attributes(
            [
                sa.PROCESS_STATUS.value_set(self.state.status),
                sa.WAITING_ON_ROLE.value_set(waiting.value if waiting else ""),
                sa.ASSIGNEE.value_set(self.state.owner),
                sa.PLATFORMS.value_set([p.value for p in self.platforms()]),
                sa.NEXT_DEADLINE.value_set(deadline) if deadline else sa.NEXT_DEADLINE.value_unset(),
            ]
        )

    @workflow.signal(name=LINKED_ARTICLE_MOVED)
    def linked_article_moved(self, *_: Any) -> None:
        """A linked article recorded something: read the record. Whatever the signal carries (any
        number of arguments, from anyone) is ignored, so none can fail the workflow's task."""
        self.woken = True
