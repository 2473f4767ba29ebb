"""Flow 6, override: a person changes an order's current decision, signed; and the
escalation waiting for that person is told it is resolved.

Refused, with the status a caller can act on: 404 unknown order, 409 the version changed
since the operator looked, 403 a signature that does not verify or a missing second
approver, 400 a change that cannot apply (unknown line or warehouse).
"""

from __future__ import annotations

import json
from datetime import datetime

from botocore.exceptions import ClientError

from meshline.dal.aws import client
from meshline.dal.escalations import EscalationStore
from meshline.dal.exports import Appended, ExportStore, VersionTaken
from meshline.dal.flags import policy_canary
from meshline.dal.scope import SYSTEM, Scope
from meshline.dal.signatures import signature_problem
from meshline.dal.tenants import TenantStore, UnknownTenant
from meshline.domain import routing
from meshline.domain.access import NotVisible
from meshline.domain.exports import Export, Trigger, TriggerKind
from meshline.domain.overrides import (
    OverrideRefused,
    OverrideRequest,
    check_approval,
    check_override,
    payload_of,
    signed_payload,
)
from meshline.domain.validation import export_schema_errors
from meshline.observability import MetricUnit, logger, metrics
from meshline.settings import OverrideSettings


class UnknownOrder(NotVisible):
    """Answered like an order out of the caller's scope: 404 'no order <tenant>:<order> here'."""


class StaleVersion(RuntimeError):
    pass


def override(settings: OverrideSettings, tenant_id: str, order_id: str, request: OverrideRequest, now: datetime,
             scope: Scope = SYSTEM) -> Export:
    """`scope`: an operator overrides only within its tenants, and signs as itself."""
    exports = ExportStore(settings.exports_table, scope, settings.payloads_bucket)
    stored = exports.latest_stored(tenant_id, order_id)
    if stored is None or stored.inputs is None:
        raise UnknownOrder(f"order {tenant_id}:{order_id}")
    if scope.caller is not None and request.signed_by.operator != scope.caller.party:
        raise OverrideRefused(
            f"the override is signed by {request.signed_by.operator}, but this credential is {scope.caller.party}'s: "
            "operators submit their own overrides", status=403)
    current = stored.export
    if current.version != request.expected_version:
        raise StaleVersion(
            f"{order_id} is at version {current.version}, not {request.expected_version}: "
            f"look at {current.export_id} and override that"
        )
    payload = signed_payload(tenant_id, order_id, request.expected_version, request.reason_code,
                             request.justification, request.changes)
    for signature in filter(None, (request.signed_by, request.approved_by)):
        problem = signature_problem(signature, payload, settings.stage)
        if problem:
            raise OverrideRefused(problem, status=403)
    tenants = TenantStore(settings.tenants_table, canary=policy_canary(settings))
    try:
        policy = tenants.deciding_policy(tenant_id, order_id)
    except UnknownTenant:
        raise UnknownOrder(f"policy of tenant {tenant_id}") from None
    check_override(request, current, policy)
    answers = exports.acknowledgements(tenant_id, order_id, current.version)
    trigger = Trigger(
        kind=TriggerKind.MANUAL_OVERRIDE,
        trigger_id=f"override:{order_id}:v{current.version}:{request.signed_by.value[-24:]}",
        source=f"operator:{request.signed_by.operator}",
        received_at=now,
    )
    order, stock = stored.inputs.order, stored.inputs.stock
    export = routing.decide(order, policy, stock, trigger, current, now, acknowledged=answers[-1].link if answers else None,
                            override=request.record(), justification=request.justification)
    check_approval(policy, request, export.intended_action)
    errors = export_schema_errors(export.model_dump(mode="json"))
    if errors:
        raise OverrideRefused(f"the override would produce an invalid export: {errors[0]}")
    bookings = tenants.consequences(current, export, policy)
    try:
        inputs = stored.inputs.model_copy(update={"reroute": None})  # what this decision read: no re-route
        if exports.append(export, inputs, also=bookings) is Appended.TRIGGER_ALREADY_APPLIED:
            raise StaleVersion(f"this override of {current.export_id} was already applied")
    except VersionTaken as race:
        raise StaleVersion(f"{order_id} changed while the override was applied: look again ({race})") from race
    metrics.add_metric(name="Overrides", unit=MetricUnit.Count, value=1)
    logger.info("override applied", extra={"export_id": export.export_id, "operator": request.signed_by.operator,
                                           "reason_code": request.reason_code})
    _resolve_escalation(settings, current, export, request.signed_by.operator)
    return export


def _resolve_escalation(settings: OverrideSettings, held: Export, resolution: Export, operator: str) -> None:
    """Answer the newest task an escalation of the overridden version handed out, if any:
    that ends the execution as resolved. A task that already timed out is no loss: the
    escalation has moved on, and a breach of a superseded version is ignored."""
    tasks = EscalationStore(settings.exports_table).tasks(held.tenant_id, held.order_id, held.version)
    if not tasks:
        return
    output = {"resolution": "override", "resolved_by": operator, "export_id": resolution.export_id}
    try:
        client("stepfunctions").send_task_success(taskToken=tasks[-1].task_token, output=json.dumps(output))
        logger.info("escalation resolved", extra={"escalation_id": held.export_id, "rung": tasks[-1].rung})
    except ClientError as error:
        if error.response["Error"]["Code"] not in ("TaskTimedOut", "TaskDoesNotExist", "InvalidToken"):
            raise
        logger.info("escalation task had already ended", extra={"escalation_id": held.export_id})


def signature_problems(export: Export, stage: str) -> list[str]:
    """Verify, later, the signatures a stored override carries."""
    if export.override is None:
        return []
    payload = payload_of(export)
    return [problem for signature in filter(None, (export.override.signed_by, export.override.approved_by))
            if (problem := signature_problem(signature, payload, stage))]
