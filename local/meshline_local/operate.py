"""Operators' commands: replay stored exports, dry-run a draft policy.

They run against the local stack (`python3 dev.py stack` in another terminal) by default,
or against a deployed stack with --aws and its table names (the stack's outputs
ExportsTableName and TenantsTableName), using your AWS credentials.

    python3 dev.py replay --all
    python3 dev.py replay acme shopify-5001 [--version 2]
    python3 dev.py dry-run acme draft-policy.json [--last 200]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from pydantic import ValidationError

from meshline.dal.exports import ExportStore
from meshline.dal.tenants import TenantStore, UnknownTenant
from meshline.domain.policy import PolicyDraft
from meshline.flows.replay import Replayer, dry_run
from meshline_local.stack import DEFAULT_STATE_DIR, use_endpoint


def _stores(args: argparse.Namespace) -> tuple[ExportStore, TenantStore]:
    if args.aws:
        if not (args.exports_table and args.tenants_table):
            raise SystemExit("--aws needs --exports-table and --tenants-table (the stack's outputs)")
        return ExportStore(args.exports_table), TenantStore(args.tenants_table)
    state = Path(args.state_dir) / "deployed.json"
    if not state.exists():
        raise SystemExit(f"no local stack found ({state} is missing): start one with 'python3 dev.py stack'")
    deployed = json.loads(state.read_text())
    use_endpoint(deployed["endpoint_url"])
    physical = deployed["physical"]
    return ExportStore(physical["ExportsTable"]), TenantStore(physical["TenantsTable"])


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


def add_commands(commands: argparse._SubParsersAction) -> None:
    def stack_options(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--state-dir", default=str(DEFAULT_STATE_DIR), help="the local stack's state directory")
        parser.add_argument("--aws", action="store_true", help="use your AWS credentials and the tables named below")
        parser.add_argument("--exports-table")
        parser.add_argument("--tenants-table")

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
