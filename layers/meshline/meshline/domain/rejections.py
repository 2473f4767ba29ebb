"""What a warehouse's rejection leads to, by the tenant's policy.

A rejection names lines (or all of the warehouse's lines) and a reason code. The policy's
exception path for `rejected:<code>` (else `rejected`, else `dispatch`, else `default`)
says what follows:
`reroute` decides those lines again without every warehouse that rejected them, as long
as the retry budget lasts; `hold_for_review` hands them to a person straight away (e.g.
an incorrect address, which no other warehouse can fix); `cancel` cancels them. Lines
the warehouse did not reject stay exactly as they were.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, NonNegativeInt

from meshline.domain.acknowledgements import Acknowledgement
from meshline.domain.policy import FallbackAction, TenantPolicy
from meshline.domain.types import Model, WarehouseId


class Reroute(Model):
    """A decision's constraint after a rejection; kept with the decision's inputs for replay."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rejected_by: WarehouseId | None = Field(description="The warehouse that failed, or whose stock changed; None for a review.")
    failure: Literal["rejected", "silent", "cancel_refused", "stock_changed"] = "rejected"
    reason_code: str
    line_ids: list[str] = Field(min_length=1, description="The rejected lines: the only ones decided again.")
    excluded: dict[str, list[WarehouseId]] = Field(
        default_factory=dict, description="Per line, every warehouse that rejected it so far, sorted."
    )
    reroutes_before: NonNegativeInt = Field(description="Automatic re-routes this order had already used.")
    fallback: FallbackAction = Field(description="What the policy's exception path says to do with the lines.")
    exception_path: str = Field(description="The policy's exception rule applied, e.g. 'rejected:out_of_stock'.")
    retry_budget: NonNegativeInt

    @property
    def may_reroute(self) -> bool:
        if self.failure == "stock_changed":
            return True  # new stock is no failure of anyone's: deciding again costs no budget
        return self.fallback is FallbackAction.REROUTE and self.reroutes_before < self.retry_budget

    @property
    def spends_budget(self) -> bool:
        return self.may_reroute and self.failure != "stock_changed"

    @property
    def excluded_warehouses(self) -> frozenset[str]:
        return frozenset(warehouse for line_id in self.line_ids for warehouse in self.excluded.get(line_id, ()))


def plan_after_rejection(ack: Acknowledgement, policy: TenantPolicy, earlier: Reroute | None) -> Reroute:
    """`earlier` is the reroute the current export was decided under, if any: its
    exclusions and count carry forward, so a line never goes back to a warehouse that
    rejected it and the budget counts every automatic re-route of the order."""
    reason = ack.request.reason_code or "other"
    return plan_reroute(ack.request.warehouse_id, reason, list(ack.line_ids), policy, earlier,
                        (f"rejected:{reason}", "rejected"))


def plan_after_silence(warehouse_id: str, line_ids: list[str], policy: TenantPolicy, earlier: Reroute | None) -> Reroute:
    """A warehouse that did not answer in time is treated as one that rejected its lines,
    under the policy's `unacknowledged` path (else `dispatch`)."""
    return plan_reroute(warehouse_id, "unacknowledged", line_ids, policy, earlier, ("unacknowledged",), failure="silent")


def plan_after_cancel_refusal(ack: Acknowledgement, policy: TenantPolicy, earlier: Reroute | None) -> Reroute:
    """A warehouse that refuses a cancellation (it shipped already, say) leaves the lines to a
    person: nothing can be re-routed, the policy's `cancel` path says who decides."""
    rule = policy.exception_rule("cancel")
    plan = plan_reroute(ack.request.warehouse_id, ack.request.reason_code or "other", list(ack.line_ids), policy, earlier,
                        (), failure="cancel_refused")
    return plan.model_copy(update={"fallback": FallbackAction.HOLD_FOR_REVIEW, "exception_path": rule.on,
                                   "retry_budget": 0})


def plan_reroute(
    warehouse_id: str | None, reason: str, line_ids: list[str], policy: TenantPolicy, earlier: Reroute | None,
    paths: tuple[str, ...],
    failure: Literal["rejected", "silent", "cancel_refused", "stock_changed"] = "rejected",
) -> Reroute:
    # A failure of the warehouse is a failed dispatch: without a rule for the failure
    # itself, the path the export advertised for its dispatch applies.
    rules = {rule.on: rule for rule in policy.exception_paths}
    rule = next((rules[path] for path in paths if path in rules), None) or policy.exception_rule("dispatch")
    excluded = {line_id: list(warehouses) for line_id, warehouses in (earlier.excluded if earlier else {}).items()}
    if failure != "stock_changed":  # a warehouse whose stock changed failed nobody: it stays a candidate
        for line_id in line_ids:
            excluded[line_id] = sorted({*excluded.get(line_id, ()), warehouse_id})
    used = 0
    if earlier is not None:
        used = earlier.reroutes_before + (1 if earlier.spends_budget else 0)
    return Reroute(
        rejected_by=warehouse_id,
        failure=failure,
        reason_code=reason,
        line_ids=line_ids,
        excluded=dict(sorted(excluded.items())),
        reroutes_before=used,
        fallback=rule.fallback,
        exception_path=rule.on,
        retry_budget=rule.retry_budget,
    )


def plan_after_stock_change(
    warehouse_id: str | None, line_ids: list[str], policy: TenantPolicy, earlier: Reroute | None, review: bool = False
) -> Reroute:
    """Lines whose warehouse no longer holds enough, or backordered lines whose SKU arrived,
    are decided again on the new stock; earlier rejections still rule warehouses out, and
    what still cannot ship stays backordered."""
    plan = plan_reroute(warehouse_id, "stock_changed", line_ids, policy, earlier, ("dispatch",), failure="stock_changed")
    return plan.model_copy(update={"reason_code": "review"}) if review else plan
