"""The operators' console end to end: headless Chromium (Debian's, driven by Playwright)
against the local stack, deployed from template.yaml, with the demo orders seeded
(meshline_local.demo_orders): a planted escalation with the earliest deadline, a few days
of history for the reports, and globex's own order for the cross-tenant check.

One stack and one browser for the module (a fresh browser context per test): the tests
run in order and the override test leaves its version for the ones after it. Each test
fails on any JavaScript error, any Content-Security-Policy violation, and any request the
page makes outside the local stack (no CDN). Screenshots of every screen go to
docs/screenshots/console/ (SCREENSHOTS), named in the README.

Chromium is Debian's package (/usr/bin/chromium); if it is missing it is installed with
apt-get (CI runs as root on a clean machine); Playwright's own browser download is never
used. If it can be neither found nor installed, the tests fail, saying so.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest

from meshline.dal.exports import ExportStore
from meshline.dal.signatures import sign
from meshline.dal.tenants import TenantStore
from meshline.domain.exports import Export, LineChange
from meshline.domain.overrides import signed_payload
from meshline.flows.override import signature_problems
from meshline.flows.replay import Replayer
from meshline_local.__main__ import main as meshline_local
from meshline_local.demo_orders import OTHER_TENANT_ORDER, PLANTED_ORDER, seed_demo_orders
from meshline_local.seed import add_bus_tap, bearer, seed_credentials, seed_tenant
from meshline_local.stack import start_runtime
from tests.stack.conftest import stop_running_executions

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots" / "console"
CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps reaching for Google's hosts,
# which a closed network refuses; each test gets a fresh profile (a new browser context).
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]
LAPTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def ensure_chromium() -> Path:
    """Debian's Chromium, installed with apt-get if it is missing and this runs as root."""
    if CHROMIUM.exists():
        return CHROMIUM
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.fail(f"{CHROMIUM} is missing and cannot be installed here (needs root and apt-get): "
                    "install Debian's chromium package (apt-get install chromium)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode:
            pytest.fail(f"{' '.join(command)} failed ({done.returncode}): {done.stderr[-2000:]}")
    if not CHROMIUM.exists():
        pytest.fail(f"apt-get installed chromium, but {CHROMIUM} is not there")
    return CHROMIUM


@pytest.fixture(scope="module")
def console(moto_server, tmp_path_factory):
    """The local stack with the console's demo data, served over HTTP on a free port."""
    urllib.request.urlopen(urllib.request.Request(f"{moto_server.endpoint_url}/moto-api/reset", method="POST"))
    saved = dict(os.environ)
    state_dir = tmp_path_factory.mktemp("console-stack")
    # The template's own escalation pace (a ladder minute lasts a minute): the planted
    # escalation stays open, with its 2-hour deadline, for the whole module.
    runtime = start_runtime(moto_server.endpoint_url, stage="local", state_dir=state_dir)
    seed_tenant(runtime)
    tokens = seed_credentials(runtime)
    add_bus_tap(runtime)
    demo = seed_demo_orders(runtime, tokens)
    server = runtime.serve_http("127.0.0.1", 0)
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    exports = ExportStore(runtime.functions["DecideFunction"].environment["EXPORTS_TABLE"])
    tenants = TenantStore(runtime.functions["DecideFunction"].environment["TENANTS_TABLE"])
    yield {"runtime": runtime, "tokens": tokens, "demo": demo, "origin": origin, "url": f"{origin}/local/console",
           "state_dir": state_dir, "exports": exports}
    server.shutdown()
    stop_running_executions()
    failures = [f"{r.export_id}: {r.problem or r.differences}" for r in Replayer(exports, tenants).replay_all() if not r.reproduced]
    os.environ.clear()
    os.environ.update(saved)
    assert not failures, "replay did not reproduce:\n" + "\n".join(failures)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    executable = ensure_chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(executable), args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


class Watched:
    """A page, and everything it did that it must not: errors, CSP violations, requests
    to anywhere but the local stack."""

    def __init__(self, page, origin):
        self.page = page
        self.problems: list[str] = []
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        # An API answer of 404 or 409 is logged by Chromium as a failed load: the page shows
        # it as a message, which the tests check; anything else on the console is a fault.
        page.on("console", lambda message: self.problems.append(f"console {message.type}: {message.text}")
                if message.type == "error" and not message.text.startswith("Failed to load resource: the server responded")
                else None)
        page.on("request", lambda request: None if request.url.startswith((origin, "blob:", "data:"))
                else self.problems.append(f"request outside the stack: {request.url}"))


@pytest.fixture
def open_page(browser, console):
    contexts = []

    def opened(viewport=LAPTOP):
        context = browser.new_context(viewport=viewport, accept_downloads=True)
        contexts.append(context)
        watched = Watched(context.new_page(), console["origin"])
        pages.append(watched)
        return watched.page

    pages: list[Watched] = []
    yield opened
    problems = [problem for watched in pages for problem in watched.problems]
    for context in contexts:
        context.close()
    assert not problems, problems


def screenshot(page, name, full_page=True):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=full_page)


def sign_in(page, console, who="agency:alice"):
    page.goto(console["url"])
    page.fill("#credential", console["tokens"][who])
    page.press("#credential", "Enter")  # the keyboard's way: no mouse needed
    page.wait_for_selector("#who:not([hidden])")


def attention_rows(page):
    page.wait_for_selector("#attention-results table, #attention-results p.card")
    return page.locator("#attention-results tbody tr")


def stored_strings(page) -> str:
    """Everything the page keeps where it outlives a variable: URL, both storages."""
    return page.evaluate("""() => JSON.stringify({url: location.href, local: {...localStorage}, session: {...sessionStorage},
                                                   cookie: document.cookie, dom: document.documentElement.outerHTML})""")


def sign_with_the_cli(console, operator, payload: str, tmp_path, capsys) -> tuple[str, str]:
    """What an operator does: `python3 dev.py sign <operator>` with the payload the console shows."""
    payload_file = tmp_path / f"payload-{operator.replace(':', '-')}.json"
    payload_file.write_bytes(payload.encode("utf-8"))
    capsys.readouterr()
    assert meshline_local(["sign", operator, "--payload-file", str(payload_file), "--state-dir", str(console["state_dir"])]) == 0
    printed = dict(line.split(None, 1) for line in capsys.readouterr().out.replace("key id", "key_id").splitlines())
    return printed["key_id"].strip(), printed["signature"].strip()


# ---------------------------------------------------------------- the tests, in order


def test_the_console_is_served_by_the_stack_with_a_strict_policy_and_no_credential(console):
    with urllib.request.urlopen(console["url"]) as answer:
        page = answer.read().decode()
        headers = answer.headers
    assert headers["Content-Security-Policy"].startswith("default-src 'self'; script-src 'self'; style-src 'self'")
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["Content-Type"] == "text/html; charset=utf-8" and headers["X-Content-Type-Options"] == "nosniff"
    assert '<script type="module" src="console/app.js"></script>' in page
    assert "<script>" not in page and " style=" not in page and "http" not in page  # nothing inline, nothing remote
    request = urllib.request.Request(f"{console['url']}/app.js", headers={"If-None-Match": "nothing-yet"})
    with urllib.request.urlopen(request) as answer:
        etag = answer.headers["ETag"]
        assert answer.headers["Content-Type"] == "text/javascript; charset=utf-8"
    again = urllib.request.Request(f"{console['url']}/app.js", headers={"If-None-Match": etag})
    with pytest.raises(urllib.error.HTTPError) as not_modified:
        urllib.request.urlopen(again)
    assert not_modified.value.code == 304
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"{console['url']}/..%2Ftemplate.yaml")
    assert missing.value.code == 404


def test_needs_attention_lists_the_planted_escalation_first_and_the_credential_stays_out_of_urls_and_storage(
        console, open_page):
    page = open_page()
    page.goto(console["url"])
    page.wait_for_selector("#sign-in-button:not([disabled])")
    screenshot(page, "01-sign-in.png")
    sign_in(page, console)
    rows = attention_rows(page)
    first = rows.first
    assert PLANTED_ORDER in first.inner_text()
    assert "Escalated" in first.inner_text() and "held for review (rejected:incorrect_address)" in first.inner_text()
    assert "agency:fulfillment-team" in first.inner_text()  # its owner
    assert re.search(r"\b1 h \d\d min\b", first.locator("td").first.inner_text())  # 2 h ladder, minus the seeding
    assert rows.count() == 4  # the planted escalation and three orders awaiting shipment, all acme's
    assert OTHER_TENANT_ORDER not in page.inner_text("#attention-results")
    screenshot(page, "02-needs-attention.png")

    token = console["tokens"]["agency:alice"]
    kept = stored_strings(page)
    assert "mlk_" not in kept and token.split(".")[1] not in kept
    assert "meshline-console-sealed-credential" in kept  # kept for reloads: encrypted

    page.select_option("#filter-warehouse", "west")
    assert [row.inner_text().split("\n")[0] for row in rows.all()] and all("west" in row.inner_text() for row in rows.all())
    assert PLANTED_ORDER not in page.inner_text("#attention-results")  # a person holds it: no warehouse
    page.select_option("#filter-warehouse", "")
    page.select_option("#filter-reason", "escalated")
    assert rows.count() == 1 and PLANTED_ORDER in rows.first.inner_text()
    page.select_option("#filter-reason", "")
    page.select_option("#filter-tenant", "acme")
    assert rows.count() == 4

    page.reload()  # the encrypted copy signs the tab in again; still nothing in clear
    assert PLANTED_ORDER in attention_rows(page).first.inner_text()
    assert "mlk_" not in stored_strings(page)
    page.click("#sign-out")
    page.wait_for_selector("#sign-in-form")
    assert page.evaluate("() => sessionStorage.length") == 0


def test_keyboard_only_opens_the_planted_escalation_its_timeline_and_explanation(console, open_page):
    page = open_page()
    sign_in(page, console)
    attention_rows(page)
    for _ in range(40):  # Tab through the header and the filters to the first order
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.classList.contains('order-link')"):
            break
    assert PLANTED_ORDER in page.evaluate("() => document.activeElement.textContent")
    page.keyboard.press("Enter")
    page.wait_for_selector("#override-form")
    assert page.url.endswith(f"#/orders/acme/{PLANTED_ORDER}")
    page.wait_for_function("() => document.activeElement.tagName === 'H1'")  # focus follows the page
    timeline = page.inner_text("ol.timeline")
    assert timeline.index("Version 1") < timeline.index("east answered version 1: rejected") < timeline.index("Version 2")
    assert timeline.index("Version 2") < timeline.index("Escalated to merchant:acme")
    assert "incorrect_address" in timeline and "No such street in Toronto" in timeline
    assert "Chain verified: 2 versions and 1 answer" in page.inner_text("#chain")
    held = max(console["exports"].history("acme", PLANTED_ORDER), key=lambda d: d["version"])
    current = page.locator("#version-2")
    assert "hold_for_review" in current.inner_text() and "current" in current.inner_text()
    # The current decision's explanation is open; older ones are folded, a keypress away.
    assert current.locator("details.explanation[open] summary").inner_text() == f"Why: {held['explanation']['summary']}"
    first = page.locator("#version-1 details.explanation")
    assert first.get_attribute("open") is None
    first.locator("summary").focus()
    page.keyboard.press("Enter")
    candidates = first.locator("tr.candidate")
    verdicts = {row.locator("td").first.inner_text(): row.locator("td").nth(1).inner_text() for row in candidates.all()}
    assert verdicts["east"] == "kept, ranked #1"
    assert verdicts["west"] == "eliminated by serves_destination"  # west does not ship to Canada
    screenshot(page, "03-timeline.png")


def override_form(console, open_page, order_id):
    """alice's page on acme's order with its override form drawn, and the order's latest stored version."""
    page = open_page()
    sign_in(page, console)
    page.goto(f"{console['url']}#/orders/acme/{order_id}")
    page.wait_for_selector("#override-form")
    return page, max(console["exports"].history("acme", order_id), key=lambda d: d["version"])


def test_a_signed_override_creates_a_new_version_that_the_timeline_shows(console, open_page, tmp_path, capsys):
    page, held = override_form(console, open_page, PLANTED_ORDER)
    line_id = held["lines"][0]["line_id"]
    justification = "The customer confirmed the corrected address by phone: ship from east as planned."
    page.fill("#reason-code", "address_corrected")
    page.fill("#justification", justification)
    page.select_option(f"#change-{line_id}", "ship:east")
    shown = page.inner_text("#payload")
    assert shown.encode() == signed_payload("acme", PLANTED_ORDER, held["version"], "address_corrected", justification,
                                            [LineChange(line_id=line_id, action="ship", warehouse_id="east")])
    key_id, signature = sign_with_the_cli(console, "agency:alice", shown, tmp_path, capsys)
    page.fill("#key-id", key_id)
    page.fill("#signature", signature)
    assert page.is_hidden("#approver")  # the demo policy asks a second approver for cancellations only
    screenshot(page, "04-override-form.png")
    page.click("#submit-override")
    page.wait_for_selector("#override-result")
    assert "Your override created version 3" in page.inner_text("#override-result")
    created = page.locator("#version-3")
    assert "Override by agency:alice" in created.inner_text() and justification in created.inner_text()
    assert "current" in created.inner_text() and "route" in created.inner_text()
    assert page.evaluate("() => document.activeElement.id") == "version-3"
    assert "Chain verified: 3 versions and 1 answer" in page.inner_text("#chain")
    screenshot(page, "05-override-created.png")

    stored = max(console["exports"].history("acme", PLANTED_ORDER), key=lambda d: d["version"])
    assert stored["version"] == 3 and stored["override"]["signed_by"]["operator"] == "agency:alice"
    assert signature_problems(Export.model_validate(stored), "local") == []
    page.goto(f"{console['url']}#/attention")
    first = attention_rows(page).first.inner_text()  # resolved: version 3 now waits for east's answer, within the hour
    assert PLANTED_ORDER in first and "v3" in first and "Awaiting a warehouse's answer" in first


def test_an_override_of_a_version_that_moved_on_gets_a_clear_message(console, open_page, tmp_path, capsys):
    order_id = "shopify-2004"
    page, seen = override_form(console, open_page, order_id)
    line_id = seen["lines"][0]["line_id"]
    page.select_option(f"#change-{line_id}", "cancel")
    assert page.is_visible("#approver") and "cancel" in page.inner_text("#approver-needed")
    page.select_option(f"#change-{line_id}", "ship:west")
    assert page.is_hidden("#approver")
    page.fill("#reason-code", "manual_reroute")
    page.fill("#justification", "East is closing early today; west has the tees.")

    # Meanwhile bob overrides the same version through the API: the page is now stale.
    changes = [LineChange(line_id=line_id, action="ship", warehouse_id="west")]
    reason, why = "manual_reroute", "Moved to west before alice did."
    payload = signed_payload("acme", order_id, seen["version"], reason, why, changes)
    body = {"expected_version": seen["version"], "reason_code": reason, "justification": why,
            "changes": [change.model_dump(mode="json") for change in changes],
            "signed_by": sign("local", "agency:bob", payload).model_dump(mode="json")}
    status, _, answer = console["runtime"].handle_http("POST", f"/local/tenants/acme/orders/{order_id}/overrides",
                                                       bearer(console["tokens"]["agency:bob"]), json.dumps(body).encode())
    assert status == 201, answer
    console["runtime"].settle()

    key_id, signature = sign_with_the_cli(console, "agency:alice", page.inner_text("#payload"), tmp_path, capsys)
    page.fill("#key-id", key_id)
    page.fill("#signature", signature)
    page.click("#submit-override")
    page.wait_for_selector("#override-problem:not([hidden])")
    problem = page.inner_text("#override-problem")
    assert "This order has moved on since this page was drawn, so nothing was changed" in problem
    assert f"{order_id} is at version 2, not 1: look at acme:{order_id}:v2 and override that" in problem
    screenshot(page, "06-stale-override.png")
    page.click("#reload-timeline")
    page.wait_for_selector("#resolve-title:has-text('override version 2')")
    assert "Override by agency:bob" in page.inner_text("#version-2")
    assert len(console["exports"].history("acme", order_id)) == 2  # alice's stale override changed nothing


def test_performance_charts_give_their_numbers_on_hover_and_focus_and_as_csv(console, open_page):
    page = open_page()
    sign_in(page, console)
    page.goto(f"{console['url']}#/performance")
    page.wait_for_selector("#chart-sla svg circle.point")
    query = f"from={page.input_value('#report-from')}&to={page.input_value('#report-to')}&period=day"
    _, _, raw = console["runtime"].handle_http("GET", f"/local/tenants/acme/reports/sla?{query}",
                                               bearer(console["tokens"]["agency:alice"]), b"")
    sla = json.loads(raw)
    late = next(row for row in sla["rows"] if row["period"] != "all" and row["late"])
    tip = page.locator("#tooltip")
    page.locator("#chart-acknowledgement-times rect.bar").first.focus()  # focus, as Tab gives it, shows the number too
    assert tip.is_visible() and re.search(r"^east · to the first answer p50: [\d.]+ (s|min|h|d) \(\d+ samples\)$", tip.inner_text())
    page.locator("#chart-exceptions rect.bar[data-label='rejection: out_of_stock']").hover()
    assert tip.inner_text() == "rejection · out_of_stock: 1"
    point = page.locator(f"#chart-sla circle.point[data-series='{late['warehouse_id']}'][data-period='{late['period']}']")
    point.hover()
    assert tip.is_visible()
    assert tip.inner_text() == (f"{late['warehouse_id']} · {late['period']}: {round(late['on_time_rate'] * 100, 1):g}% on time "
                                f"({late['on_time']} of {late['shipped']} shipped, {late['late']} late)")
    screenshot(page, "07-performance.png")

    with page.expect_download() as download:
        page.click("#csv-sla")
    downloaded = Path(download.value.path()).read_bytes().decode("utf-8")  # CRLF kept, as RFC 4180 writes it
    lines = downloaded.strip().split("\r\n")
    assert lines[0] == "period,warehouse_id,shipped,on_time,late,on_time_rate,overdue_unshipped"
    assert len(lines) == 1 + len(sla["rows"])
    assert f"{late['period']},{late['warehouse_id']},{late['shipped']},{late['on_time']},{late['late']}," in downloaded
    assert download.value.suggested_filename.startswith("meshline-sla-acme-")


def test_on_a_phone_the_console_is_readable_without_scrolling_sideways(console, open_page):
    page = open_page(PHONE)
    sign_in(page, console)
    attention_rows(page)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    assert page.locator("#attention-results thead").bounding_box()["height"] <= 1  # rows are cards: each cell says what it is
    screenshot(page, "08-phone-needs-attention.png")
    page.goto(f"{console['url']}#/orders/acme/{PLANTED_ORDER}")
    page.wait_for_selector("#override-form")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "09-phone-timeline.png")
    page.goto(f"{console['url']}#/performance")
    page.wait_for_selector("#chart-sla svg")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "10-phone-performance.png")


def test_another_tenants_operator_sees_none_of_its_orders(console, open_page):
    acme_orders = [PLANTED_ORDER, *console["demo"].open_orders, *console["demo"].history]
    page = open_page()
    sign_in(page, console, "globex:agency:carol")
    rows = attention_rows(page)
    assert rows.count() == 1 and OTHER_TENANT_ORDER in rows.first.inner_text() and "globex" in rows.first.inner_text()
    assert page.locator("#filter-tenant option").all_inner_texts() == ["All my tenants", "globex"]
    text = page.inner_text("main")
    assert not [order for order in acme_orders if order in text and order != OTHER_TENANT_ORDER]
    screenshot(page, "11-other-tenant.png")
    page.goto(f"{console['url']}#/orders/acme/{PLANTED_ORDER}")
    page.wait_for_selector("#not-found")
    assert page.inner_text("#not-found") == f"No order acme:{PLANTED_ORDER} that your credential can see."
    page.goto(f"{console['url']}#/performance")
    page.wait_for_selector("#charts .chart")
    assert page.locator("#report-tenant option").all_inner_texts() == ["globex"]
    assert not [order for order in acme_orders if order in page.inner_text("main")]


def test_a_warehouse_credential_is_turned_away_from_the_console(console, open_page):
    page = open_page()
    page.goto(console["url"])
    page.fill("#credential", "my password")
    page.click("#sign-in-button")
    page.wait_for_selector("#sign-in-problem:not([hidden])")
    assert page.inner_text("#sign-in-problem") == "That is not an operator credential: it looks like mlk_<id>.<secret>."
    page.fill("#credential", f"Bearer {console['tokens']['east']}")  # as `dev.py stack` prints it
    page.click("#sign-in-button")
    page.wait_for_selector("#sign-in-problem:has-text('warehouse')")
    assert page.inner_text("#sign-in-problem") == ("This is a warehouse credential (3pl:east-logistics): "
                                                   "the console is for operators.")
    assert page.is_hidden("#nav") and page.evaluate("() => sessionStorage.length") == 0
