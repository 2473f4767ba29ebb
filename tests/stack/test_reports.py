"""Reports through the local stack, on a small set of orders whose every figure is worked
out by hand below; and a receipt whose order never got exported, which the
reconciliation lists.

The orders are placed on Monday 2026-11-02 and Tuesday 2026-11-03 at 09:30 in New York
(14:30 UTC), each decided one minute later (the clock is frozen then), so every export
version 1 has created_at 14:31:00Z. Under the demo policy ("standard" service, one
handling day; cutoffs 15:00 New York = 20:00Z, 14:00 Los Angeles = 22:00Z):
    east, placed 11-02: ship_by 2026-11-03T20:00:00Z  (v1 created 29h29m = 106,140 s before)
    east, placed 11-03: ship_by 2026-11-04T20:00:00Z  (106,140 s after its v1)
    west, placed 11-03: ship_by 2026-11-04T22:00:00Z  (31h29m = 113,340 s after its v1)
Toronto orders can only go east (west serves the US only); the hats (706405907431) only
west (only it stocks them). Warehouses answer with `at` times chosen relative to those.

    order  placed  warehouse  what happens                                             first answer   shipped
    A 9201 11-02   east       received +10 min, shipped 1 h before ship_by (on time)   600 s          102,540 s
    B 9202 11-02   east       accepted +30 min, shipped at ship_by exactly (on time)   1,800 s        106,140 s
    F 9206 11-02   east       rejected +40 min (incorrect_address): v2 held, escalated 2,400 s        -
                              (rejected:incorrect_address), breached (v3); east's late
                              answer to v1 refused; alice overrides v3 (address_corrected):
                              v4 ships from east again, decided now, so its ship_by and
                              acknowledge_by are still ahead; unanswered
    C 9203 11-03   east       accepted +60 min, shipped 2 h after ship_by (late)       3,600 s        113,340 s
    G 9207 11-03   east       never answered; alice cancels it, bob approves (v2)     -              -
    D 9204 11-03   west       accepted +5 min, shipped 30 min after ship_by (late)     300 s          115,140 s
    E 9205 11-03   west       accepted +15 min, never shipped (past ship_by)           900 s          -
    R 9299 11-03   -          a receipt written at 14:31Z, then nothing: the crash     -              -
                              between the receipt and the order inbox, planted
"""

import json
from datetime import date, datetime, timedelta

import pytest

from meshline import settings
from meshline.clock import utc_now
from meshline.dal.credentials import CredentialStore
from meshline.dal.receipts import WebhookReceipts
from meshline.domain.types import format_utc
from meshline_local.__main__ import main
from meshline_local.freezing import freeze_time
from meshline_local.seed import bearer
from tests.payloads import routable_body, shopify_headers
from tests.stack.test_acknowledgements import answer, latest, post
from tests.stack.test_overrides import override_body, post_override

TORONTO = {"city": "Toronto", "province_code": "ON", "country_code": "CA", "latitude": 43.65, "longitude": -79.38}
TEE, HAT = ("TEE-BLK-M", 1), ("706405907431", 1)
MONDAY, TUESDAY = "2026-11-02", "2026-11-03"
WINDOW = "from=2026-11-02&to=2026-11-08"


def placed(stack, number, day, lines, ship_to=None):
    """Order `number`, placed on `day` at 09:30 in New York and decided a minute later."""
    body = routable_body(number, f"{day}T09:30:00-05:00", [lines], ship_to=ship_to)
    with freeze_time(f"{day}T14:31:00Z"):
        assert stack.post_webhook(body, shopify_headers(body, event_id=f"evt-{number}"))[0] == 202
        stack.runtime.settle()
    return latest(stack, f"shopify-{number}")


def answer_at(stack, export, warehouse, kind, ack_id, at, **fields):
    status, receipt = post(stack, {**answer(export, warehouse, kind, ack_id, **fields), "at": format_utc(at)})
    assert status == 200 and receipt["outcome"] == "recorded", receipt
    return receipt


def when(text):
    return datetime.fromisoformat(text)


@pytest.fixture
def worked_orders(stack):
    for function in stack.runtime.functions.values():
        function.entry_point()  # imported now: pydantic cannot build models while freezegun's datetime stands in
    orders = {}
    for name, number, day, lines, ship_to in (("A", 9201, MONDAY, TEE, TORONTO), ("B", 9202, MONDAY, TEE, TORONTO),
                                              ("F", 9206, MONDAY, TEE, TORONTO), ("C", 9203, TUESDAY, TEE, TORONTO),
                                              ("G", 9207, TUESDAY, TEE, TORONTO), ("D", 9204, TUESDAY, HAT, None),
                                              ("E", 9205, TUESDAY, HAT, None)):
        orders[name] = export = placed(stack, number, day, lines, ship_to)
        assert export["created_at"] == f"{day}T14:31:00Z"
        assert export["lines"][0]["warehouse_id"] == ("west" if lines == HAT else "east"), (name, export["explanation"])
    ship_by = {name: when(export["shipments"][0]["ship_by"]) for name, export in orders.items()}
    assert {name: format_utc(moment) for name, moment in ship_by.items()} == {
        "A": "2026-11-03T20:00:00Z", "B": "2026-11-03T20:00:00Z", "F": "2026-11-03T20:00:00Z",
        "C": "2026-11-04T20:00:00Z", "G": "2026-11-04T20:00:00Z", "D": "2026-11-04T22:00:00Z", "E": "2026-11-04T22:00:00Z"}
    created = {name: when(export["created_at"]) for name, export in orders.items()}
    tracking = {"tracking_number": "1Z999AA10123456784"}

    A, B, C, D, E, F, G = (orders[name] for name in "ABCDEFG")
    answer_at(stack, A, "east", "received", "a-1", created["A"] + timedelta(minutes=10))
    answer_at(stack, A, "east", "shipped", "a-2", ship_by["A"] - timedelta(hours=1), **tracking)
    answer_at(stack, B, "east", "accepted", "b-1", created["B"] + timedelta(minutes=30))
    answer_at(stack, B, "east", "shipped", "b-2", ship_by["B"], **tracking)
    answer_at(stack, C, "east", "accepted", "c-1", created["C"] + timedelta(minutes=60))
    answer_at(stack, C, "east", "shipped", "c-2", ship_by["C"] + timedelta(hours=2), **tracking)
    answer_at(stack, D, "west", "accepted", "d-1", created["D"] + timedelta(minutes=5))
    answer_at(stack, D, "west", "shipped", "d-2", ship_by["D"] + timedelta(minutes=30), **tracking)
    answer_at(stack, E, "west", "accepted", "e-1", created["E"] + timedelta(minutes=15))

    held = answer_at(stack, F, "east", "rejected", "f-1", created["F"] + timedelta(minutes=40),
                     reason_code="incorrect_address")
    assert held["new_export_id"] == "acme:shopify-9206:v2"
    held = latest(stack, "shopify-9206")
    assert (held["intended_action"], held["exception_path"]["on"], held["exception_path"]["kind"]) == (
        "hold_for_review", "rejected:incorrect_address", "auto_escalate")
    breach = stack.runtime.run_until(
        lambda: (d := latest(stack, "shopify-9206"))["trigger"]["kind"] == "escalation_breached" and d,
        timeout=60, what="the breach of F's escalation")
    late = {**answer(F, "east", "accepted", "f-late"), "at": format_utc(created["F"] + timedelta(hours=2))}
    assert post(stack, late)[0] == 409  # v1 was superseded: refused, and kept as a record
    line = breach["lines"][0]["line_id"]
    status, _ = post_override(stack, "shopify-9206", override_body(
        "shopify-9206", breach, [{"line_id": line, "action": "ship", "warehouse_id": "east"}], reason="address_corrected",
        justification="The customer confirmed the corrected address by phone."))
    assert status == 201
    status, cancelled = post_override(stack, "shopify-9207", override_body(
        "shopify-9207", G, [{"line_id": G["lines"][0]["line_id"], "action": "cancel"}], reason="customer_request",
        approver="agency:bob", justification="The customer cancelled before it was picked."))
    assert status == 201 and cancelled["intended_action"] == "cancel"

    # The planted discrepancy: ingest's receipt of order 9299's creation, written as ingest
    # writes it, then nothing (the process died before the order reached the inbox).
    ingest = stack.env["IngestFunction"]
    WebhookReceipts(ingest["RECEIPTS_TABLE"], timedelta(days=int(ingest["WEBHOOK_DEDUP_DAYS"]))).record(
        tenant_id="acme", platform="shopify", delivery_id="evt-9299", body_sha256="0" * 64, order_id="shopify-9299",
        topic="orders/create", now=when(f"{TUESDAY}T14:31:00Z"), created_at=when(f"{TUESDAY}T14:30:00Z"))
    return orders


def report(stack, kind, query=WINDOW, as_="agency:alice"):
    status, body = stack.call("GET", f"/tenants/acme/reports/{kind}?{query}", as_=as_)
    assert status == 200, body
    assert (body["tenant_id"], body["from_date"], body["to_date"]) == ("acme", "2026-11-02", "2026-11-08")
    assert body["orders"] == 8  # A B C D E F G, and R, which only has its receipt
    return body


def test_reports_on_worked_orders_show_the_numbers_worked_out_by_hand(stack, worked_orders):
    sla = report(stack, "sla")
    # Shipped answers judged against the version they answered; overdue: current versions'
    # shipments not shipped, past ship_by (E at west; F's v4 was decided today: not due yet).
    assert [(r["period"], r["warehouse_id"], r["shipped"], r["on_time"], r["late"], r["on_time_rate"],
             r["overdue_unshipped"]) for r in sla["rows"]] == [
        ("2026-11-02", "east", 2, 2, 0, 1.0, 0),  # A an hour early, B exactly at ship_by
        ("2026-11-03", "east", 1, 0, 1, 0.0, 0),  # C two hours late; G cancelled, owes nothing
        ("2026-11-03", "west", 1, 0, 1, 0.0, 1),  # D 30 minutes late; E never shipped
        ("all", "east", 3, 2, 1, 0.6667, 0),  # 2 of 3
        ("all", "west", 1, 0, 1, 0.0, 1),
    ]
    weekly = report(stack, "sla", f"{WINDOW}&period=week")
    assert [(r["period"], r["warehouse_id"], r["shipped"], r["on_time"], r["overdue_unshipped"]) for r in weekly["rows"]] == [
        ("2026-W45", "east", 3, 2, 0), ("2026-W45", "west", 1, 0, 1), ("all", "east", 3, 2, 0), ("all", "west", 1, 0, 1)]

    times = report(stack, "acknowledgement-times")

    def p(durations):
        return (durations["count"], durations["p50_seconds"], durations["p90_seconds"], durations["p99_seconds"])

    assert [(r["period"], r["warehouse_id"], p(r["first_answer"]), p(r["shipped"])) for r in times["rows"]] == [
        # first answers 600, 1800, 2400 (F's rejection): ranks ceil(1.5)=2, ceil(2.7)=3, ceil(2.97)=3;
        # shipped 102540, 106140: ranks 1, 2, 2. G (sent, never answered) and F's v4 give no sample.
        ("2026-11-02", "east", (3, 1800.0, 2400.0, 2400.0), (2, 102540.0, 106140.0, 106140.0)),
        ("2026-11-03", "east", (1, 3600.0, 3600.0, 3600.0), (1, 113340.0, 113340.0, 113340.0)),
        ("2026-11-03", "west", (2, 300.0, 900.0, 900.0), (1, 115140.0, 115140.0, 115140.0)),
        # 600, 1800, 2400, 3600: ranks 2, 4, 4; 102540, 106140, 113340: ranks 2, 3, 3
        ("all", "east", (4, 1800.0, 3600.0, 3600.0), (3, 106140.0, 113340.0, 113340.0)),
        ("all", "west", (2, 300.0, 900.0, 900.0), (1, 115140.0, 115140.0, 115140.0)),
    ]

    exceptions = report(stack, "exceptions")
    expected = [("escalation_breached", "rejected:incorrect_address", 1), ("escalation_opened", "rejected:incorrect_address", 1),
                ("hold", "rejected:incorrect_address", 1),  # v2; the breach (v3) keeps the hold, it is not a new one
                ("refused_answer", "east", 1), ("rejection", "incorrect_address", 1)]
    assert [(r["period"], r["category"], r["key"], r["count"]) for r in exceptions["rows"]] == [
        *(("2026-11-02", *row) for row in expected), *(("all", *row) for row in expected)]

    overrides = report(stack, "overrides")
    assert [(r["period"], r["reason_code"], r["operator"], r["approver"], r["count"]) for r in overrides["rows"]] == [
        ("2026-11-02", "address_corrected", "agency:alice", None, 1),
        ("2026-11-03", "customer_request", "agency:alice", "agency:bob", 1),
        ("all", "address_corrected", "agency:alice", None, 1),
        ("all", "customer_request", "agency:alice", "agency:bob", 1),
    ]
    assert [(o["export_id"], o["operator"], o["approver"]) for o in overrides["overrides"]] == [
        ("acme:shopify-9206:v4", "agency:alice", None), ("acme:shopify-9207:v2", "agency:alice", "agency:bob")]

    reconciliation = report(stack, "reconciliation")
    assert [(r["period"], r["received"], r["exported"], r["acknowledged"], r["shipped"], r["discrepancies"])
            for r in reconciliation["rows"]] == [
        ("2026-11-02", 3, 3, 3, 2, 0),  # A B F; F's v4 is not shipped, but its acknowledge_by is still ahead
        ("2026-11-03", 5, 4, 3, 2, 2),  # C D E G and the receipt R; G nobody answered (cancelled); C D shipped
        ("all", 8, 7, 6, 4, 2),
    ]
    assert [(d["order_id"], d["kind"], d["warehouse_id"], d["since"]) for d in reconciliation["discrepancies"]] == [
        ("shopify-9205", "unshipped_past_ship_by", "west", "2026-11-04T22:00:00Z"),
        ("shopify-9299", "received_not_exported", None, "2026-11-03T14:31:00Z"),  # the planted one
    ]
    assert reconciliation["discrepancies"][1]["detail"] == (
        "a creation webhook was received at 2026-11-03T14:31:00Z; no export was ever stored")
    kept_since = (utc_now() - timedelta(days=30)).date() + timedelta(days=1)
    assert reconciliation["receipts_cover_window"] is (date(2026, 11, 2) >= kept_since)


def test_the_cli_prints_the_same_reports_as_tables_or_csv(stack, worked_orders, capsys):
    arguments = ["--from", "2026-11-02", "--to", "2026-11-08", "--state-dir", str(stack.state_dir)]
    assert main(["report", "sla", "acme", *arguments]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].startswith("sla report of acme: 8 order(s) placed 2026-11-02 to 2026-11-08 (UTC), by day; as of ")
    assert table[2:5] == [
        "Rows",
        "  period      warehouse_id  shipped  on_time  late  on_time_rate  overdue_unshipped",
        "  ----------  ------------  -------  -------  ----  ------------  -----------------",
    ]
    assert table[-2].split() == ["all", "east", "3", "2", "1", "0.6667", "0"]

    assert main(["report", "reconciliation", "acme", *arguments, "--csv"]) == 0
    rows, discrepancies = capsys.readouterr().out.split("\n\n")
    assert rows.splitlines()[-1] == "all,8,7,6,4,2"
    assert discrepancies.splitlines() == [
        "order_id,period,kind,warehouse_id,detail,since",
        "shopify-9205,2026-11-03,unshipped_past_ship_by,west,west answered acme:shopify-9205:v1 but has not shipped "
        "line(s) 920501,2026-11-04T22:00:00Z",
        "shopify-9299,2026-11-03,received_not_exported,,a creation webhook was received at 2026-11-03T14:31:00Z; "
        "no export was ever stored,2026-11-03T14:31:00Z",
    ]

    assert main(["report", "acknowledgement-times", "acme", *arguments, "--csv"]) == 0
    header, *_ = capsys.readouterr().out.splitlines()
    assert header == ("period,warehouse_id,first_answer.count,first_answer.p50_seconds,first_answer.p90_seconds,"
                      "first_answer.p99_seconds,shipped.count,shipped.p50_seconds,shipped.p90_seconds,shipped.p99_seconds")
    assert main(["report", "sla", "nobody", *arguments]) == 2
    assert capsys.readouterr().err.strip() == "no tenant nobody"


def test_reports_are_for_the_tenants_operators_only_and_bounded(stack, worked_orders):
    assert stack.call("GET", f"/tenants/acme/reports/sla?{WINDOW}", as_="east")[0] == 403
    # Out of scope and unknown answer alike: an operator of initech (never onboarded) only.
    credentials = CredentialStore(stack.env["OnboardTenantsFunction"]["TENANTS_TABLE"],
                                  stack.env["OnboardTenantsFunction"]["USAGE_PLAN_NAME"])
    _, token = credentials.issue({"role": "operator", "party": "agency:dave", "tenants": ["initech"]}, utc_now())
    for tenant in ("acme", "initech"):
        status, _, body = stack.runtime.handle_http("GET", f"/local/tenants/{tenant}/reports/reconciliation?{WINDOW}",
                                                    bearer(token), b"")
        assert (status, json.loads(body)) == (404, {"error": "not_found", "message": f"no tenant {tenant}"})

    status, body = stack.call("GET", "/tenants/acme/reports/sla?from=2026-11-09&to=2026-11-02")
    assert (status, body) == (400, {"error": "bad_request", "message": "from (2026-11-09) is after to (2026-11-02)"})
    status, body = stack.call("GET", "/tenants/acme/reports/sla?from=2026-11-02&to=9999-12-31")
    assert (status, body["message"]) == (400, "from and to must be days from 2000-01-01 to 2999-12-31")
    assert stack.call("GET", "/tenants/acme/reports/sla?period=month")[0] == 422

    function = stack.runtime.functions["ReportFulfillmentFunction"]
    function.environment["MAX_REPORT_ORDERS"] = "7"  # the window holds 8
    settings.reset()
    try:
        status, body = stack.call("GET", f"/tenants/acme/reports/sla?{WINDOW}")
        assert (status, body) == (400, {"error": "bad_request", "message": "more than 7 orders were placed from "
                                        "2026-11-02 to 2026-11-08: ask for a shorter window"})
        status, body = stack.call("GET", "/tenants/acme/reports/sla?from=2026-11-02&to=2026-11-02")
        assert (status, body["orders"]) == (200, 3)  # a narrower window fits
    finally:
        function.environment["MAX_REPORT_ORDERS"] = "5000"
        settings.reset()
