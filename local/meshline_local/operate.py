"""Operators' commands: replay stored exports, dry-run a draft policy, reports.

They run against the local stack (`python3 dev.py stack` in another terminal) by default,
or against a deployed stack with --aws and its table names (the stack's outputs
ExportsTableName, TenantsTableName and, for reports, ReceiptsTableName), using your AWS
credentials.

    python3 dev.py replay --all
    python3 dev.py replay acme shopify-5001 [--version 2]
    python3 dev.py dry-run acme draft-policy.json [--last 200]
    python3 dev.py report sla acme [--from 2026-11-02 --to 2026-11-08] [--period week] [--csv]

Reports (sla, exceptions, acknowledgement-times, overrides, reconciliation) are the
operators' API's, computed by the same code; --csv prints each table as CSV, tables
separated by an empty line.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from meshline.clock import utc_now
from meshline.dal.exports import ExportStore
from meshline.dal.scope import Scope
from meshline.dal.tenant_orders import TooManyOrders
from meshline.dal.tenants import TenantStore, UnknownTenant
from meshline.domain.access import NotVisible
from meshline.domain.policy import PolicyDraft
from meshline.domain.reports import OverridesReport, Period, ReconciliationReport
from meshline.domain.types import format_utc
from meshline.flows.replay import Replayer, dry_run
from meshline.flows.reports import BadWindow, ReportKind, Reports, report_window
from meshline.settings import ReportSettings
from meshline_local.stack import DEFAULT_STATE_DIR, use_endpoint


def _tables(args: argparse.Namespace, *needed: str) -> dict[str, str]:
    """Logical table name (ExportsTable, ...) -> its name, from the options or the local stack."""
    if args.aws:
        given = {name: getattr(args, f"{name.removesuffix('Table').lower()}_table", None) for name in needed}
        missing = [f"--{name.removesuffix('Table').lower()}-table" for name, value in given.items() if not value]
        if missing:
            raise SystemExit(f"--aws needs {' and '.join(missing)} (the stack's outputs)")
        return given
    state = Path(args.state_dir) / "deployed.json"
    if not state.exists():
        raise SystemExit(f"no local stack found ({state} is missing): start one with 'python3 dev.py stack'")
    deployed = json.loads(state.read_text())
    use_endpoint(deployed["endpoint_url"])
    return {name: deployed["physical"][name] for name in needed}


def _stores(args: argparse.Namespace) -> tuple[ExportStore, TenantStore]:
    tables = _tables(args, "ExportsTable", "TenantsTable")
    return ExportStore(tables["ExportsTable"]), TenantStore(tables["TenantsTable"])


def run_replay(args: argparse.Namespace) -> int:
    exports, tenants = _stores(args)
    replayer = Replayer(exports, tenants)
    if args.all:
        results = replayer.replay_all()
    elif args.tenant and args.order:
        results = [replayer.replay_version(args.tenant, args.order, args.version)]
    else:
        raise SystemExit("name a tenant and an order, or pass --all")
    total = reproduced = 0
    started = time.perf_counter()
    for result in results:
        total += 1
        reproduced += result.reproduced
        if not result.reproduced:
            print(f"MISMATCH {result.export_id}: {result.problem or ''}")
            for difference in result.differences:
                print(f"    {difference}")
        elif not args.all:
            print(f"reproduced {result.export_id}: the engine decides exactly the stored export again")
        if args.all and total % 100 == 0:
            print(f"  … {total} replayed", file=sys.stderr)
    print(f"{reproduced} of {total} export(s) reproduced exactly in {time.perf_counter() - started:.1f} s")
    return 0 if reproduced == total else 1


def run_dry_run(args: argparse.Namespace) -> int:
    exports, tenants = _stores(args)
    try:
        draft = PolicyDraft.model_validate_json(Path(args.policy).read_text())
    except ValidationError as error:
        for problem in error.errors():
            print(f"{args.policy}: {'.'.join(str(p) for p in problem['loc'])}: {problem['msg']}", file=sys.stderr)
        return 2
    try:
        report = dry_run(exports, tenants, args.tenant, draft, args.last)
    except UnknownTenant as error:
        print(error, file=sys.stderr)
        return 2
    print(f"tenant {report.tenant_id}: draft (would be v{report.draft_version}) against active v{report.active_version}, "
          f"{report.orders_evaluated} most recent order(s)")
    for change in report.changed:
        print(f"\n{change.order_id} ({change.export_id}) would change:")
        for difference in change.changes:
            print(f"    {difference}")
    for order_id, why in report.skipped.items():
        print(f"skipped {order_id}: {why}")
    print(f"\n{len(report.changed)} would change, {len(report.unchanged)} unchanged, {len(report.skipped)} skipped")
    return 0


def _flat(row: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested fields as columns: {"first_answer": {"count": 2}} -> {"first_answer.count": 2}."""
    flat: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _print_table(title: str, rows: list[BaseModel], as_csv: bool) -> None:
    flat = [_flat(row.model_dump(mode="json")) for row in rows]
    if as_csv:
        if flat:
            writer = csv.DictWriter(sys.stdout, fieldnames=list(flat[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(flat)
        return
    print(f"\n{title}")
    if not flat:
        print("  (none)")
        return
    columns = list(flat[0])
    cells = [[("-" if row[c] is None else str(row[c])) for c in columns] for row in flat]
    widths = [max(len(c), *(len(line[i]) for line in cells)) for i, c in enumerate(columns)]
    for line in [columns, ["-" * width for width in widths], *cells]:
        print("  " + "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())


def run_report(args: argparse.Namespace) -> int:
    tables = _tables(args, "ExportsTable", "TenantsTable", "ReceiptsTable")
    settings = ReportSettings(stage="cli", exports_table=tables["ExportsTable"], tenants_table=tables["TenantsTable"],
                              receipts_table=tables["ReceiptsTable"], receipt_days=args.receipt_days,
                              max_orders=args.max_orders)
    now = utc_now()
    try:
        window = report_window(args.tenant, args.from_date, args.to_date, Period(args.period), now.date())
        report = Reports(settings, Scope()).report(ReportKind(args.kind), window, now)
    except (BadWindow, TooManyOrders, NotVisible) as error:
        print(f"no {error}" if isinstance(error, NotVisible) else error, file=sys.stderr)
        return 2
    if not args.csv:
        print(f"{args.kind} report of {report.tenant_id}: {report.orders} order(s) placed {report.from_date} to "
              f"{report.to_date} (UTC), by {report.period}; as of {format_utc(report.generated_at)}")
    tables_of = [("Rows", report.rows)]
    if isinstance(report, ReconciliationReport):
        tables_of.append(("Discrepancies", report.discrepancies))
        if not args.csv and not report.receipts_cover_window:
            print("note: part of the window is older than receipts are kept: 'received' undercounts")
    if isinstance(report, OverridesReport):
        tables_of.append(("Overrides", report.overrides))
    for index, (title, rows) in enumerate(tables_of):
        if args.csv and index:
            print()
        _print_table(title, rows, args.csv)
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    def stack_options(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--state-dir", default=str(DEFAULT_STATE_DIR), help="the local stack's state directory")
        parser.add_argument("--aws", action="store_true", help="use your AWS credentials and the tables named below")
        parser.add_argument("--exports-table")
        parser.add_argument("--tenants-table")
        parser.add_argument("--receipts-table")

    replay = commands.add_parser("replay", help="decide stored exports again and compare, field by field")
    replay.add_argument("tenant", nargs="?")
    replay.add_argument("order", nargs="?")
    replay.add_argument("--version", type=int, help="default: the latest")
    replay.add_argument("--all", action="store_true", help="every export in the table")
    stack_options(replay)
    replay.set_defaults(run=run_replay)

    dry = commands.add_parser("dry-run", help="what a draft policy would change on a tenant's recent orders")
    dry.add_argument("tenant")
    dry.add_argument("policy", help="a JSON file holding the draft (schemas/policy-draft.schema.json)")
    dry.add_argument("--last", type=int, default=200)
    stack_options(dry)
    dry.set_defaults(run=run_dry_run)

    from meshline_local.redrive import run_redrive

    redrive = commands.add_parser("redrive", help="dead letters with why they failed; --apply sends them back")
    redrive.add_argument("--queue", help="one dead-letter queue by name (default: every one)")
    redrive.add_argument("--apply", action="store_true", help="send each back to its source queue")
    stack_options(redrive)
    redrive.set_defaults(run=run_redrive)

    report = commands.add_parser("report", help="a report of a tenant's orders placed in a window (UTC days)")
    report.add_argument("kind", choices=[str(kind) for kind in ReportKind])
    report.add_argument("tenant")
    report.add_argument("--from", dest="from_date", type=date.fromisoformat, help="first day, YYYY-MM-DD (default: 6 days before --to)")
    report.add_argument("--to", dest="to_date", type=date.fromisoformat, help="last day, included (default: today, UTC)")
    report.add_argument("--period", choices=[str(period) for period in Period], default="day")
    report.add_argument("--csv", action="store_true", help="CSV instead of a table")
    report.add_argument("--max-orders", type=int, default=ReportSettings.model_fields["max_orders"].default)
    report.add_argument("--receipt-days", type=int, default=ReportSettings.model_fields["receipt_days"].default,
                        help="how long receipts are kept (the stack's WebhookDedupDays)")
    stack_options(report)
    report.set_defaults(run=run_report)
