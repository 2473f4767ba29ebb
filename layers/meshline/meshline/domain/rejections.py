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

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt

from meshline.domain.acknowledgements import Acknowledgement
from meshline.domain.policy import FallbackAction, TenantPolicy
from meshline.domain.types import WarehouseId


class Reroute(BaseModel):
    """A decision's constraint after a rejection; kept with the decision's inputs for replay."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rejected_by: WarehouseId
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
        return self.fallback is FallbackAction.REROUTE and self.reroutes_before < self.retry_budget

    @property
    def excluded_warehouses(self) -> frozenset[str]:
        return frozenset(warehouse for line_id in self.line_ids for warehouse in self.excluded.get(line_id, ()))


def plan_after_rejection(ack: Acknowledgement, policy: TenantPolicy, earlier: Reroute | None) -> Reroute:
    """`earlier` is the reroute the current export was decided under, if any: its
    exclusions and count carry forward, so a line never goes back to a warehouse that
    rejected it and the budget counts every automatic re-route of the order."""
    reason = ack.request.reason_code or "other"
    # A rejection is a failed dispatch: without a rule for the rejection itself, the path
    # the export advertised for its dispatch applies.
    rules = {rule.on: rule for rule in policy.exception_paths}
    rule = rules.get(f"rejected:{reason}") or rules.get("rejected") or policy.exception_rule("dispatch")
    excluded = {line_id: list(warehouses) for line_id, warehouses in (earlier.excluded if earlier else {}).items()}
    for line_id in ack.line_ids:
        excluded[line_id] = sorted({*excluded.get(line_id, ()), ack.request.warehouse_id})
    used = 0
    if earlier is not None:
        used = earlier.reroutes_before + (1 if earlier.may_reroute else 0)
    return Reroute(
        rejected_by=ack.request.warehouse_id,
        reason_code=reason,
        line_ids=list(ack.line_ids),
        excluded=dict(sorted(excluded.items())),
        reroutes_before=used,
        fallback=rule.fallback,
        exception_path=rule.on,
        retry_budget=rule.retry_budget,
    )
