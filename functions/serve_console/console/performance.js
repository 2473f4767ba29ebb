// Performance: the reports as charts, with the numbers on hover and as a table, and each
// report as CSV. GET /tenants/{t}/reports/{sla,exceptions,acknowledgement-times}.

import { get, path } from "./api.js";
import { barChart, groupedBarChart, legend, lineChart, niceDuration } from "./charts.js";
import { downloadCsv, toCsv } from "./csv.js";
import { announce, duration, h, percent, replaceChildren, table } from "./dom.js";

const DAY = 86_400_000;
const PERCENTILES = [["p50", "p50_seconds"], ["p90", "p90_seconds"], ["p99", "p99_seconds"]];

const isoDate = (moment) => moment.toISOString().slice(0, 10);

function csvButton(id, filename, csv) {
  return h("button", { type: "button", class: "secondary", id, onclick: () => {
    downloadCsv(filename, csv());
    announce(`Downloading ${filename}`);
  } }, "Download CSV");
}

function numbers(summary, columns, rows) {
  return h("details", {}, h("summary", {}, summary), table(columns, rows));
}

function slaCard(report, filename) {
  const rows = report.rows.filter((row) => row.period !== "all");
  const periods = [...new Set(rows.map((row) => row.period))].sort();
  const warehouses = [...new Set(report.rows.map((row) => row.warehouse_id))].sort();
  const totals = report.rows.filter((row) => row.period === "all");
  const series = warehouses.map((warehouse) => ({
    name: warehouse,
    points: rows.filter((row) => row.warehouse_id === warehouse).map((row) => ({
      period: row.period,
      value: row.on_time_rate === null ? null : Math.round(row.on_time_rate * 1000) / 10,
      text: `${warehouse} · ${row.period}: ${percent(row.on_time_rate)} on time (${row.on_time} of ${row.shipped} shipped` +
        `${row.late ? `, ${row.late} late` : ""})`,
    })),
  }));
  const csv = () => toCsv([
    ["period", (r) => r.period], ["warehouse_id", (r) => r.warehouse_id], ["shipped", (r) => r.shipped],
    ["on_time", (r) => r.on_time], ["late", (r) => r.late], ["on_time_rate", (r) => r.on_time_rate],
    ["overdue_unshipped", (r) => r.overdue_unshipped],
  ], report.rows);
  return h("section", { class: "card chart", id: "chart-sla", "aria-labelledby": "chart-sla-title" },
    h("h2", { id: "chart-sla-title" }, "On-time ship rate per warehouse"),
    h("p", { class: "muted" }, totals.length ? `Over the window: ${totals.map((row) =>
      `${row.warehouse_id} ${percent(row.on_time_rate)} (${row.on_time} of ${row.shipped})`).join(", ")}.` : "Nothing shipped in this window."),
    legend(warehouses),
    periods.length ? lineChart({ label: "On-time ship rate per warehouse and period", periods, series })
      : h("p", { class: "muted" }, "No shipment to chart."),
    numbers("Numbers", [
      { label: "Period", cell: (r) => r.period }, { label: "Warehouse", cell: (r) => r.warehouse_id },
      { label: "Shipped", cell: (r) => r.shipped, numeric: true }, { label: "On time", cell: (r) => r.on_time, numeric: true },
      { label: "Late", cell: (r) => r.late, numeric: true }, { label: "On-time rate", cell: (r) => percent(r.on_time_rate), numeric: true },
      { label: "Overdue, unshipped", cell: (r) => r.overdue_unshipped, numeric: true },
    ], report.rows),
    h("div", { class: "actions" }, csvButton("csv-sla", filename, csv)));
}

function exceptionsCard(report, filename) {
  const totals = report.rows.filter((row) => row.period === "all").sort((a, b) => b.count - a.count);
  const bars = totals.map((row) => ({
    label: `${row.category.replaceAll("_", " ")}: ${row.key}`, value: row.count,
    text: `${row.category.replaceAll("_", " ")} · ${row.key}: ${row.count}`,
  }));
  const csv = () => toCsv([["period", (r) => r.period], ["category", (r) => r.category], ["key", (r) => r.key],
    ["count", (r) => r.count]], report.rows);
  return h("section", { class: "card chart", id: "chart-exceptions", "aria-labelledby": "chart-exceptions-title" },
    h("h2", { id: "chart-exceptions-title" }, "Exceptions by reason"),
    h("p", { class: "muted" }, `${totals.reduce((sum, row) => sum + row.count, 0)} over the window, by kind and reason.`),
    bars.length ? barChart({ label: "Exceptions by reason over the window", bars }) : h("p", { class: "muted" }, "No exception."),
    numbers("Numbers", [
      { label: "Period", cell: (r) => r.period }, { label: "Kind", cell: (r) => r.category },
      { label: "Reason or warehouse", cell: (r) => r.key }, { label: "Count", cell: (r) => r.count, numeric: true },
    ], report.rows),
    h("div", { class: "actions" }, csvButton("csv-exceptions", filename, csv)));
}

function acknowledgementCard(report, filename) {
  const totals = report.rows.filter((row) => row.period === "all").sort((a, b) => a.warehouse_id.localeCompare(b.warehouse_id));
  const chart = (measure, title) => groupedBarChart({
    label: title,
    seriesNames: PERCENTILES.map(([name]) => name),
    format: duration,
    roundUp: niceDuration,
    groups: totals.map((row) => ({
      label: row.warehouse_id,
      bars: PERCENTILES.map(([name, key]) => row[measure][key] === null ? null : {
        value: row[measure][key],
        text: `${row.warehouse_id} · ${title.toLowerCase()} ${name}: ${duration(row[measure][key])} (${row[measure].count} samples)`,
      }),
    })),
  });
  const columns = ["first_answer", "shipped"].flatMap((measure) => [
    [`${measure}_count`, (r) => r[measure].count], ...PERCENTILES.map(([, key]) => [`${measure}_${key}`, (r) => r[measure][key]]),
  ]);
  const csv = () => toCsv([["period", (r) => r.period], ["warehouse_id", (r) => r.warehouse_id], ...columns], report.rows);
  return h("section", { class: "card chart", id: "chart-acknowledgement-times", "aria-labelledby": "chart-ack-title" },
    h("h2", { id: "chart-ack-title" }, "Acknowledgement-time percentiles"),
    h("p", { class: "muted" }, "From an export version's creation to its warehouse's first answer, and to shipped; nearest-rank percentiles over the window."),
    legend(PERCENTILES.map(([name]) => name)),
    totals.length ? [
      h("h3", {}, "To the first answer"), chart("first_answer", "To the first answer"),
      h("h3", {}, "To shipped"), chart("shipped", "To shipped"),
    ] : h("p", { class: "muted" }, "No answer in this window."),
    numbers("Numbers", [
      { label: "Period", cell: (r) => r.period }, { label: "Warehouse", cell: (r) => r.warehouse_id },
      ...["first_answer", "shipped"].flatMap((measure) => [
        { label: `${measure.replace("_", " ")}: n`, cell: (r) => r[measure].count, numeric: true },
        ...PERCENTILES.map(([name, key]) => ({ label: `${measure.replace("_", " ")}: ${name}`, cell: (r) => duration(r[measure][key]), numeric: true })),
      ]),
    ], report.rows),
    h("div", { class: "actions" }, csvButton("csv-acknowledgement-times", filename, csv)));
}

export async function renderPerformance(view, context) {
  const tenants = context.caller.tenants;
  const today = new Date();
  const chosen = context.performance ||= {
    tenant: tenants[0], from: isoDate(new Date(today - 13 * DAY)), to: isoDate(today), period: "day",
  };
  const tenant = h("select", { id: "report-tenant" }, tenants.map((t) => h("option", { value: t, selected: t === chosen.tenant }, t)));
  const from = h("input", { id: "report-from", type: "date", value: chosen.from, required: true });
  const to = h("input", { id: "report-to", type: "date", value: chosen.to, required: true });
  const period = h("select", { id: "report-period" },
    [["day", "Per day"], ["week", "Per ISO week"]].map(([value, text]) => h("option", { value, selected: value === chosen.period }, text)));
  const results = h("div", { class: "charts", id: "charts" });
  const load = async () => {
    Object.assign(chosen, { tenant: tenant.value, from: from.value, to: to.value, period: period.value });
    replaceChildren(results, h("p", { class: "loading" }, "Loading the reports…"));
    const query = new URLSearchParams({ from: chosen.from, to: chosen.to, period: chosen.period });
    const name = (kind) => `meshline-${kind}-${chosen.tenant}-${chosen.from}-to-${chosen.to}-${chosen.period}.csv`;
    try {
      const [sla, exceptions, acknowledgements] = await Promise.all(["sla", "exceptions", "acknowledgement-times"]
        .map((kind) => get(`${path`tenants/${chosen.tenant}/reports/${kind}`}?${query}`)));
      replaceChildren(results,
        slaCard(sla, name("sla")),
        exceptionsCard(exceptions, name("exceptions")),
        acknowledgementCard(acknowledgements, name("acknowledgement-times")));
      announce(`Reports for ${chosen.tenant} from ${chosen.from} to ${chosen.to} shown`);
    } catch (error) {
      replaceChildren(results, h("p", { class: "problem", role: "alert" }, error.message));
    }
  };
  view.append(
    h("h1", { tabindex: "-1" }, "Performance"),
    h("p", { class: "muted" }, "Orders placed in the window, with everything that happened to them since. Hover or focus a point or a bar for its number."),
    h("form", { class: "card filters", id: "report-form", onsubmit: (event) => { event.preventDefault(); load(); } },
      h("div", {}, h("label", { for: "report-tenant" }, "Tenant"), tenant),
      h("div", {}, h("label", { for: "report-from" }, "From"), from),
      h("div", {}, h("label", { for: "report-to" }, "To"), to),
      h("div", {}, h("label", { for: "report-period" }, "Period"), period),
      h("div", { class: "actions" }, h("button", { type: "submit", id: "show-reports" }, "Show"))),
    results);
  await load();
}
