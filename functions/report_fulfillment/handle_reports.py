"""API Gateway -> the operators' reports (operator credentials only).

    GET /tenants/{tenant_id}/reports/sla                     on-time ship rate and late count per warehouse
    GET /tenants/{tenant_id}/reports/exceptions              rejections, silences, refusals, holds, escalations
    GET /tenants/{tenant_id}/reports/acknowledgement-times   p50/p90/p99 to the first answer and to shipped
    GET /tenants/{tenant_id}/reports/overrides               by reason code, operator and approver
    GET /tenants/{tenant_id}/reports/reconciliation          received, exported, acknowledged, shipped; every
                                                             discrepancy by order

Each takes `from` and `to` (UTC days, included; default the last 7 days) and `period`
(`day` or `week`), and covers the tenant's orders placed in that window (at most
MAX_REPORT_ORDERS, else 400). Another tenant answers 404 exactly like an unknown one; a
warehouse credential, 403.
"""

from datetime import date
from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from pydantic import BaseModel

from meshline.api import TenantIdPath, answer_access_errors, answer_validation_errors_by_field, caller_of, documented, error_response
from meshline.clock import utc_now
from meshline.dal.scope import Scope
from meshline.dal.tenant_orders import TooManyOrders
from meshline.domain.access import Role
from meshline.domain.reports import AckTimesReport, ExceptionsReport, OverridesReport, Period, ReconciliationReport, SlaReport
from meshline.flows.reports import BadWindow, ReportKind, Reports, report_window
from meshline.observability import logger, metrics, tracer
from meshline.settings import report_settings

app = APIGatewayRestResolver(enable_validation=True)
answer_validation_errors_by_field(app)
answer_access_errors(app)

FromDay = Annotated[date | None, Query(alias="from", description="First UTC day (YYYY-MM-DD); default: 6 days before `to`.")]
ToDay = Annotated[date | None, Query(description="Last UTC day, included (YYYY-MM-DD); default: today.")]
ByPeriod = Annotated[Period, Query(description="Rows per UTC day or per ISO week of the day orders were placed.")]


@app.exception_handler(BadWindow)
@app.exception_handler(TooManyOrders)
def _bad_request(error: ValueError) -> Response:
    return error_response(400, "bad_request", str(error))


def _report(kind: ReportKind, tenant_id: str, first_day: date | None, last_day: date | None, period: Period):
    caller = caller_of(app)
    caller.require_role(Role.OPERATOR, "read reports")
    now = utc_now()
    window = report_window(tenant_id, first_day, last_day, period, now.date())
    return Reports(report_settings(), Scope(caller)).report(kind, window, now)


def _route(kind: ReportKind, name: str, shape: type[BaseModel]) -> None:
    """GET /tenants/{tenant_id}/reports/<kind>: the five routes differ only in their kind and shape."""

    def get_report(tenant_id: TenantIdPath, from_: FromDay = None, to: ToDay = None, period: ByPeriod = Period.DAY):
        return _report(kind, tenant_id, from_, to, period)

    get_report.__name__ = get_report.__qualname__ = name  # the OpenAPI operation id
    get_report.__annotations__["return"] = shape  # the OpenAPI response
    app.get(f"/tenants/<tenant_id>/reports/{kind}", responses=documented(400, 403, 404))(tracer.capture_method(get_report))


for _kind, _name, _shape in (
    (ReportKind.SLA, "get_sla_report", SlaReport),
    (ReportKind.EXCEPTIONS, "get_exceptions_report", ExceptionsReport),
    (ReportKind.ACKNOWLEDGEMENT_TIMES, "get_acknowledgement_times_report", AckTimesReport),
    (ReportKind.OVERRIDES, "get_overrides_report", OverridesReport),
    (ReportKind.RECONCILIATION, "get_reconciliation_report", ReconciliationReport),
):
    _route(_kind, _name, _shape)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return app.resolve(event, context)
