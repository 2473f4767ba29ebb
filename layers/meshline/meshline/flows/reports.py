"""Reports for operators: how fulfillment performs, per tenant, warehouse and period.

`meshline.dal.partitions.gather_orders` reads the tenant's orders placed in the window
(bounded by `MAX_REPORT_ORDERS`), through stores built for the caller's scope;
`meshline.domain.reports` computes the figures. A tenant outside the caller's scope and
a tenant that does not exist answer alike: 404 `no tenant <id>`.
"""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ValidationError

from meshline.dal.exports import ExportStore
from meshline.dal.aws import acting_for
from meshline.dal.partitions import gather_orders
from meshline.dal.receipts import WebhookReceipts
from meshline.dal.scope import Scope
from meshline.dal.tenants import TenantStore
from meshline.domain.access import NotVisible
from meshline.domain.reports import (
    EARLIEST,
    OrderRecord,
    Period,
    ReportWindow,
    acknowledgement_times_report,
    exceptions_report,
    overrides_report,
    reconciliation_report,
    sla_report,
)
from meshline.observability import logger
from meshline.settings import ReportSettings

DEFAULT_DAYS = 7


class ReportKind(StrEnum):
    SLA = "sla"
    EXCEPTIONS = "exceptions"
    ACKNOWLEDGEMENT_TIMES = "acknowledgement-times"
    OVERRIDES = "overrides"
    RECONCILIATION = "reconciliation"


class BadWindow(ValueError):
    pass


def report_window(tenant_id: str, first_day: date | None, last_day: date | None, period: Period,
                  today: date) -> ReportWindow:
    """`to` defaults to today (UTC), `from` to the 7 days ending there."""
    last_day = last_day or today
    span = timedelta(days=DEFAULT_DAYS - 1)
    default_first = last_day - span if last_day >= EARLIEST + span else EARLIEST  # no arithmetic before year 1
    try:
        return ReportWindow(tenant_id=tenant_id, from_date=first_day or default_first, to_date=last_day, period=period)
    except ValidationError as error:
        raise BadWindow(error.errors()[0]["msg"].removeprefix("Value error, ")) from None


class Reports:
    def __init__(self, settings: ReportSettings, scope: Scope):
        self.settings = settings
        self.scope = scope
        self.exports = ExportStore(settings.exports_table, scope)
        self.tenants = TenantStore(settings.tenants_table, scope)
        self.receipts = WebhookReceipts(settings.receipts_table, timedelta(days=settings.receipt_days), scope)

    def report(self, kind: ReportKind, window: ReportWindow, now: datetime) -> BaseModel:
        started = time.perf_counter()
        orders = self._orders(window)
        if kind is ReportKind.RECONCILIATION:
            report = reconciliation_report(window, orders, now, self.receipts.kept_since(now))
        else:
            compute = {ReportKind.SLA: sla_report, ReportKind.EXCEPTIONS: exceptions_report,
                       ReportKind.ACKNOWLEDGEMENT_TIMES: acknowledgement_times_report,
                       ReportKind.OVERRIDES: overrides_report}[kind]
            report = compute(window, orders, now)
        logger.info("report computed", extra={"report": str(kind), "tenant_id": window.tenant_id, "orders": len(orders),
                                              "seconds": round(time.perf_counter() - started, 3)})
        return report

    def _orders(self, window: ReportWindow) -> list[OrderRecord]:
        def missing() -> NotVisible:
            return NotVisible(f"tenant {window.tenant_id}")

        self.scope.require_tenant(window.tenant_id, missing)
        with acting_for(self.settings.tenant_read_role_arn, window.tenant_id):  # IAM too: meshline.dal.aws
            if self.tenants.active_policy(window.tenant_id) is None:
                raise missing()
            return gather_orders(self.exports, self.receipts, window, self.settings.max_orders)
