"""The promotion workflow (`promotion-<key>`): R-PROMO-3D, the promotion decider in the obligation loop.

Started by the API with the planner's signed `plan`. It follows the announcement articles linked
to it (workflows/obligation.py), reminds the owner and the operations manager 7 and 5 days before
the start (P-PROMO-REMIND) naming what is missing and where it is stuck, and at the announcement
deadline records met, or breached naming the missing platforms, escalated to the operations
manager. It watches until the promotion ends, so a late announcement is recorded as late. The
start moves (`reschedule`) or the promotion is called off (`cancel`) by signed, validated updates.
"""

from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain import promotions as p
    from domain.durations import format_duration
    from domain.roles import Role
    from domain.rules import RuleId
    from workflows.contracts import PromotionStart, PromotionView
    from workflows.obligation import ObligationProcess


@workflow.defn(name="Promotion")
class PromotionWorkflow(ObligationProcess[p.Promotion]):
    decider = p.PROMOTIONS
    link = "promotion_id"
    rule = RuleId.PROMO_3D
    prefix = "promotion-"
    writers = Role.PROMOTION_SPECIALIST

    @workflow.run
    async def run(self, start: PromotionStart) -> PromotionView:
        await self.lifetime(start.plan, self.planning)
        return self.view()

    def planning(self, fields: Any) -> p.Plan:
        plan = p.Plan.model_validate(fields)
        self.own(plan.promotion_id, "promotion_id")
        return plan

    # --- the obligation's clock -------------------------------------------------------------------

    def next_due(self) -> datetime | None:
        return p.next_due(self.state, self.policy)

    def closes_at(self) -> datetime | None:
        return self.state.ends_at

    def over(self) -> bool:
        """Watched until the promotion ends, also once it is called off: an announcement that still
        comes out then is recorded and its follow-up asked for."""
        ends = self.state.ends_at
        return ends is None or workflow.now() >= ends

    def deadline(self) -> datetime | None:
        """R-PROMO-3D's deadline while it is still to be judged (a promotion that is not major never is)."""
        s = self.state
        return s.announce_by if s.major and s.verdict is None and not s.cancelled else None

    async def tell(self, event: Any) -> None:
        s = self.state
        if isinstance(event, p.PromotionReminded):
            missing = ", ".join(f"{platform} ({stage})" for platform, stage in event.missing.items())
            ahead = format_duration(timedelta(seconds=event.before_start_s))
            message = f"promotion {s.name!r} starts in {ahead}; not announced yet on: {missing}"
            for role in event.to:
                await self.tell_role(event.type, RuleId.PROMO_REMIND, role, message)
            return
        if isinstance(event, p.AnnouncementBreached):
            lead, missing = format_duration(self.policy.promo_3d.lead), ", ".join(event.missing)
            message = f"promotion {s.name!r} was not announced {lead} before its start on: {missing}"
        elif isinstance(event, p.Announced) and s.cancelled:
            message = (
                f"promotion {s.name!r} was called off, yet it was announced on {event.platform}: follow up"
            )
        elif isinstance(event, p.AnnouncementMet) and event.after_breach:
            message = f"promotion {s.name!r}: the breach is amended, its announcement was out in time"
        else:
            return
        await self.tell_role(event.type, RuleId.PROMO_3D, Role.OPERATIONS_MANAGER, message)

    # --- people's commands and what they see ----------------------------------------------------

    def view(self) -> PromotionView:
        return PromotionView(promotion=self.state, decisions=self.decisions)

    @workflow.update
    async def reschedule(self, command: Any) -> PromotionView:
        """The start moves: the deadline and the reminders move with it (R-PROMO-3D)."""
        await self.decide_for_person(command, p.Reschedule.model_validate)
        return self.view()

    @reschedule.validator
    def _reschedule(self, command: Any) -> None:
        self.validate(command, p.Reschedule.model_validate)

    @workflow.update
    async def cancel(self, command: Any) -> PromotionView:
        """The promotion is called off: the obligation ends; what is out is listed for a follow-up."""
        await self.decide_for_person(command, p.Cancel.model_validate)
        return self.view()

    @cancel.validator
    def _cancel(self, command: Any) -> None:
        self.validate(command, p.Cancel.model_validate)

    @workflow.query
    def current(self) -> PromotionView:
        return self.view()
