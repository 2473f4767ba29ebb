"""Replay and comparison of decisions.

An export records everything needed to decide it again: its trigger and clock
(`created_at`) are in the export; the previous version is named by `supersedes`; the
policy by `decision_version`; the order and the stock read are kept beside it as
`DecisionInputs`, which the export's `inputs_hash` seals. Replaying is calling the
engine again with those, and comparing the result with what was stored, field by field.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from meshline.domain.escalations import record_breach
from meshline.domain.exports import Export, TriggerKind
from meshline.domain.inventory import StockSnapshot
from meshline.domain.orders import Order
from meshline.domain.policy import TenantPolicy
from meshline.domain.rejections import Reroute
from meshline.domain.types import Model

DECISION_FIELDS = (
    "intended_action",
    "owning_party",
    "watchers",
    "lines",
    "shipments",
    "sla",
    "valid_until",
    "exception_path",
    "instructions",
)
"""What an operator means by 'the decision': who does what, by when. Not the explanation,
hashes or version bookkeeping, which change whenever anything does."""


class DecisionInputs(Model):
    """What a decision read besides its trigger, clock, policy and previous export."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    order: Order
    stock: StockSnapshot
    reroute: Reroute | None = Field(default=None, description="Set when the decision followed a warehouse's rejection.")


class FieldDifference(Model):
    model_config = ConfigDict(frozen=True)

    path: str = Field(description="e.g. 'lines[0].warehouse_id'")
    stored: Any = Field(description="The value in the stored export (or, in a dry run, the active decision).")
    replayed: Any = Field(description="The value decided again.")

    def __str__(self) -> str:
        return f"{self.path}: stored {self.stored!r}, replayed {self.replayed!r}"


def differences(stored: Any, replayed: Any, path: str = "") -> list[FieldDifference]:
    """Every leaf where two JSON documents differ, with its path (e.g. 'lines[0].warehouse_id')."""
    if isinstance(stored, dict) and isinstance(replayed, dict):
        found = []
        for key in sorted(set(stored) | set(replayed)):
            found += differences(stored.get(key), replayed.get(key), f"{path}.{key}" if path else key)
        return found
    if isinstance(stored, list) and isinstance(replayed, list) and len(stored) == len(replayed):
        found = []
        for index, (left, right) in enumerate(zip(stored, replayed, strict=True)):
            found += differences(left, right, f"{path}[{index}]")
        return found
    return [] if stored == replayed else [FieldDifference(path=path or "(root)", stored=stored, replayed=replayed)]


def decision_changes(before: dict[str, Any], after: dict[str, Any]) -> list[FieldDifference]:
    return [change for field in DECISION_FIELDS for change in differences(before.get(field), after.get(field), field)]


def redecide(stored: Export, inputs: DecisionInputs, policy: TenantPolicy, previous: Export | None) -> Export:
    """The engine's answer today to exactly the question `stored` answered."""
    from meshline.domain.routing import decide

    if stored.trigger.kind is TriggerKind.ESCALATION_BREACHED:
        if previous is None:
            raise ValueError(f"{stored.export_id} records a breach but supersedes nothing")
        return record_breach(previous, stored.trigger, stored.created_at, stored.acknowledged)

    return decide(
        inputs.order, policy, inputs.stock, stored.trigger, previous, stored.created_at,
        reroute=inputs.reroute, acknowledged=stored.acknowledged,
        override=stored.override, justification=stored.justification,
    )
