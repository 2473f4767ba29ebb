// Needs attention: open escalations and exports at risk of missing a deadline, across the
// operator's tenants, earliest deadline first (GET /tenants/{t}/exceptions, every page).

import { get, path } from "./api.js";
import { announce, h, replaceChildren, table, timeLeft, when } from "./dom.js";

export const KINDS = {
  escalated: "Escalated: held for a person",
  breached: "Escalation breached",
  awaiting_answer: "Awaiting a warehouse's answer",
  awaiting_shipment: "At risk of missing ship-by",
  backordered: "Backordered",
};
const HORIZONS = [["24", "24 hours"], ["72", "3 days"], ["168", "7 days"], ["720", "30 days"]];
const PAGE = 200;
const MAX_PAGES = 10; // 2,000 entries per tenant: past that, narrow the horizon

async function queueOf(tenantId, withinHours) {
  const entries = [];
  let cursor = null;
  for (let page = 0; page < MAX_PAGES; page += 1) {
    const query = new URLSearchParams({ within_hours: withinHours, limit: String(PAGE) });
    if (cursor) query.set("cursor", cursor);
    const answer = await get(`${path`tenants/${tenantId}/exceptions`}?${query}`);
    entries.push(...answer.entries.map((entry) => ({ ...entry, tenant_id: tenantId })));
    cursor = answer.next_cursor;
    if (!cursor) return { entries, complete: true };
  }
  return { entries, complete: false };
}

function setOptions(control, options, value) {
  replaceChildren(control, options.map(([optionValue, text]) =>
    h("option", { value: optionValue, selected: optionValue === value }, text)));
  control.value = options.some(([optionValue]) => optionValue === value) ? value : "";
}

/** A labelled select, made once: redrawing the list must not take the keyboard focus away. */
function select(id, label, onChange) {
  const control = h("select", { id, onchange: (event) => onChange(event.target.value) });
  return [control, h("div", {}, h("label", { for: id }, label), control)];
}

export async function renderAttention(view, context) {
  const filters = context.attentionFilters;
  const tenants = context.caller.tenants;
  const status = h("p", { class: "muted", id: "attention-status" });
  const results = h("div", { id: "attention-results" }, h("p", { class: "loading" }, "Loading what needs attention…"));
  const filterBox = h("div", { class: "filters" });
  view.append(
    h("h1", { tabindex: "-1" }, "Needs attention"),
    h("p", { class: "muted" }, "Open escalations and exports at risk of missing a deadline, earliest deadline first."),
    h("section", { class: "card", "aria-label": "Filters" }, filterBox),
    status,
    results,
  );

  let loaded = [];
  let partial = [];
  const [tenantSelect, tenantField] = select("filter-tenant", "Tenant", (value) => { filters.tenant = value; draw(); });
  const [warehouseSelect, warehouseField] = select("filter-warehouse", "Warehouse",
    (value) => { filters.warehouse = value; draw(); });
  const [reasonSelect, reasonField] = select("filter-reason", "Reason", (value) => { filters.reason = value; draw(); });
  const [withinSelect, withinField] = select("filter-within", "Deadline within", (value) => { filters.within = value; load(); });
  setOptions(tenantSelect, [["", "All my tenants"], ...tenants.map((t) => [t, t])], filters.tenant);
  setOptions(withinSelect, HORIZONS, filters.within);
  filterBox.append(tenantField, warehouseField, reasonField, withinField,
    h("div", { class: "actions" }, h("button", { type: "button", class: "secondary", onclick: () => load() }, "Refresh")));

  const draw = () => {
    const warehouses = [...new Set(loaded.flatMap((entry) => entry.warehouses))].sort();
    const kinds = new Set(loaded.map((entry) => entry.kind));
    setOptions(warehouseSelect, [["", "Any warehouse"], ...warehouses.map((w) => [w, w])], filters.warehouse);
    setOptions(reasonSelect, [["", "Any reason"], ...Object.entries(KINDS).filter(([kind]) => kinds.has(kind))],
      filters.reason);
    const shown = loaded
      .filter((entry) => !filters.tenant || entry.tenant_id === filters.tenant)
      .filter((entry) => !filters.warehouse || entry.warehouses.includes(filters.warehouse))
      .filter((entry) => !filters.reason || entry.kind === filters.reason);
    const horizon = HORIZONS.find(([value]) => value === filters.within)[1];
    status.textContent = `${shown.length} of ${loaded.length} entries with a deadline within ${horizon}` +
      (partial.length ? ` (only the first ${PAGE * MAX_PAGES} of ${partial.join(", ")}: choose a shorter horizon)` : "");
    if (!shown.length) {
      replaceChildren(results, h("p", { class: "card" }, loaded.length ? "Nothing matches these filters." :
        `Nothing needs attention within ${horizon}.`));
      return;
    }
    replaceChildren(results, table([
      { label: "Time left", cell: (e) => h("span", { class: `left${e.seconds_left < 0 ? " overdue" : ""}` }, timeLeft(e.seconds_left)) },
      { label: "Deadline", cell: (e) => when(e.deadline) },
      {
        label: "Order",
        cell: (e) => h("a", { href: `#/orders/${encodeURIComponent(e.tenant_id)}/${encodeURIComponent(e.order_id)}`,
          class: "order-link" }, e.order_id, h("span", { class: "muted" }, ` v${e.version}`)),
      },
      { label: "Tenant", cell: (e) => e.tenant_id },
      { label: "Reason", cell: (e) => [h("span", { class: `badge ${e.kind}` }, KINDS[e.kind] || e.kind), " ", e.reason] },
      { label: "Owner", cell: (e) => e.owner },
      { label: "Warehouses", cell: (e) => e.warehouses.join(", ") || h("span", { class: "muted" }, "none (a person holds it)") },
    ], shown, { caption: "What needs attention, earliest deadline first", rowClass: (e) => `entry ${e.kind}` }));
  };

  const load = async () => {
    replaceChildren(results, h("p", { class: "loading" }, "Loading what needs attention…"));
    let queues;
    try {
      queues = await Promise.all(tenants.map((tenantId) => queueOf(tenantId, filters.within)));
    } catch (error) {
      replaceChildren(results, h("p", { class: "problem", role: "alert" }, error.message));
      return;
    }
    loaded = queues.flatMap((queue) => queue.entries)
      .sort((a, b) => a.deadline.localeCompare(b.deadline) || a.tenant_id.localeCompare(b.tenant_id));
    partial = tenants.filter((_, index) => !queues[index].complete);
    draw();
    announce(status.textContent);
  };

  await load();
}
