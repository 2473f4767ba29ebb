"""The operators' read API: an export, an order's whole history, its chain, the exception queue.

Every read goes through stores built for the caller's scope (`meshline.dal.scope`), so
what another tenant or warehouse owns is never read, only reported as not found; and with
AWS credentials that IAM limits to the one tenant asked for (TenantReadRole).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any

from pydantic import Field

from meshline.dal.aws import acting_for
from meshline.dal.exports import ExportStore
from meshline.dal.partitions import OrderPartition
from meshline.dal.scope import Scope, order_not_found
from meshline.domain.access import Caller, NotVisible, Role
from meshline.domain.acknowledgements import Acknowledgement
from meshline.domain.audit import verify_chain
from meshline.domain.escalations import HandedRung
from meshline.domain.exports import Export, OverrideRecord, parse_export_id
from meshline.domain.follow_ups import AttentionKind
from meshline.domain.types import Model, UtcDatetime
from meshline.settings import ReadSettings

MAX_PAGE = 200
MAX_HORIZON_HOURS = 24 * 30


class ChainVerification(Model):
    order_id: str
    verified: bool = Field(description="Every hash recomputed and every link between versions and answers holds.")
    versions: int
    answers: int
    problems: list[str] = Field(default_factory=list, description="What does not hold, entry by entry.")


class RefusedAnswer(Model):
    request: dict[str, Any] = Field(description="The answer as the warehouse sent it.")
    reason: str
    refused_at: UtcDatetime


class OverrideEntry(Model):
    export_id: str = Field(description="The version the override created.")
    override: OverrideRecord
    justification: str | None = None


class OrderHistory(Model):
    tenant_id: str
    order_id: str
    versions: list[Export] = Field(description="Every export version, oldest first.")
    acknowledgements: list[Acknowledgement] = Field(description="Warehouse answers in chain order.")
    refused: list[RefusedAnswer] = Field(description="Answers that were refused, kept as records outside the chain.")
    overrides: list[OverrideEntry]
    escalations: list[HandedRung]
    chain: ChainVerification


class ExceptionEntry(Model):
    export_id: str
    order_id: str
    version: int
    kind: AttentionKind
    deadline: UtcDatetime
    seconds_left: int = Field(description="Until the deadline; negative once it has passed.")
    owner: str
    reason: str
    warehouses: list[str] = Field(description="Warehouses that must act on this version; none while a person holds it.")


class ExceptionQueue(Model):
    tenant_id: str
    until: UtcDatetime = Field(description="Entries with a deadline up to this time, earliest first.")
    entries: list[ExceptionEntry]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page.")


class CallerProfile(Model):
    """Who the credential is, as the authorizer verified it: what a client (the console)
    needs to know which tenants to offer. The credential's id and secret are not echoed."""

    role: Role
    party: str = Field(description="Who acts, e.g. 'agency:alice'; overrides are signed as this party.")
    tenants: list[str] = Field(description="The tenants this credential may see, and nothing beyond them.")
    warehouse_id: str | None = Field(default=None, description="For a warehouse credential: which warehouse.")

    @classmethod
    def of(cls, caller: Caller) -> CallerProfile:
        return cls(role=caller.role, party=caller.party, tenants=list(caller.tenants), warehouse_id=caller.warehouse_id)


class BadCursor(ValueError):
    pass


class Reads:
    """Each read acts for one tenant: the scope admits the caller to it, then the reads go
    with a session of the tenant read role tagged with it (meshline.dal.aws.acting_for)."""

    def __init__(self, settings: ReadSettings, scope: Scope):
        self.scope = scope
        self.tenant_role_arn = settings.tenant_read_role_arn
        self.exports = ExportStore(settings.exports_table, scope)

    def _acting_for(self, tenant_id: str, missing: Callable[[], LookupError]) -> AbstractContextManager[None]:
        self.scope.require_tenant(tenant_id, missing)  # before any session is made for it
        return acting_for(self.tenant_role_arn, tenant_id)

    def export(self, export_id: str) -> dict[str, Any]:
        tenant_id, order_id, version = parse_export_id(export_id)
        with self._acting_for(tenant_id, lambda: NotVisible(f"export {tenant_id}:{order_id}:v{version}")):
            return self.exports.visible(tenant_id, order_id, version)

    def history(self, tenant_id: str, order_id: str) -> OrderHistory:
        with self._acting_for(tenant_id, order_not_found(tenant_id, order_id)):
            items = self.exports.order_items(tenant_id, order_id)
            partition = OrderPartition.of(items)  # reads large exports from S3, as the tenant too
        if not partition.versions:
            raise NotVisible(f"order {tenant_id}:{order_id}")
        report = verify_chain(partition.versions, partition.answers)
        versions = [Export.model_validate(document) for document in partition.versions]
        return OrderHistory(
            tenant_id=tenant_id,
            order_id=order_id,
            versions=versions,
            acknowledgements=[Acknowledgement.model_validate(answer) for answer in partition.answers],
            refused=[RefusedAnswer.model_validate(refusal) for refusal in partition.refused],
            overrides=[OverrideEntry(export_id=v.export_id, override=v.override, justification=v.justification)
                       for v in versions if v.override is not None],
            escalations=partition.escalations,
            chain=ChainVerification(order_id=order_id, verified=report.verified, versions=report.versions,
                                    answers=len(partition.answers), problems=report.problems),
        )

    def verification(self, tenant_id: str, order_id: str) -> ChainVerification:
        return self.history(tenant_id, order_id).chain

    def exceptions(self, tenant_id: str, now: datetime, within_hours: int, limit: int,
                   cursor: str | None) -> ExceptionQueue:
        if not 1 <= limit <= MAX_PAGE:
            raise ValueError(f"limit: between 1 and {MAX_PAGE}, got {limit}")
        if not 1 <= within_hours <= MAX_HORIZON_HOURS:
            raise ValueError(f"within_hours: between 1 and {MAX_HORIZON_HOURS}, got {within_hours}")
        until = now + timedelta(hours=within_hours)
        with self._acting_for(tenant_id, order_not_found(tenant_id, "*")):
            found, after = self.exports.needing_attention(tenant_id, until, limit, _decode(cursor, tenant_id))
        entries = [
            ExceptionEntry(export_id=f"{tenant_id}:{order_id}:v{version}", order_id=order_id, version=version,
                           kind=needs.kind, deadline=needs.deadline,
                           seconds_left=int((needs.deadline - now).total_seconds()), owner=needs.owner,
                           reason=needs.reason, warehouses=needs.warehouses)
            for order_id, version, needs in found
        ]
        return ExceptionQueue(tenant_id=tenant_id, until=until, entries=entries,
                              next_cursor=_encode(after) if after else None)


def _encode(key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, sort_keys=True).encode()).decode()


def _decode(cursor: str | None, tenant_id: str) -> dict[str, Any] | None:
    """A cursor is the index key to continue after; one of another tenant's is refused."""
    if not cursor:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError):
        raise BadCursor("cursor: not a cursor this API gave out") from None
    if not isinstance(key, dict) or key.get("attention_tenant", {}).get("S") != tenant_id:
        raise BadCursor("cursor: not a cursor this API gave out for this tenant")
    return key
