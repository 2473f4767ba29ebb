// Order timeline: every export version, warehouse answer (and refused answer), override and
// escalation rung of one order, in the order they happened; each decision's explanation;
// the hash chain's verification. Then the override form for the current version.
// One call: GET /tenants/{t}/orders/{o}/history.

import { ApiError, get, path } from "./api.js";
import { h, replaceChildren, table, when } from "./dom.js";
import { renderOverrideForm } from "./override.js";

// Entries are ordered by when Meshline recorded them (an answer's own `at` is the
// warehouse's clock). A rejection and the version it causes are written in one
// transaction, at one instant: there, what belongs to version N (its answers, its
// escalation rungs) comes after N and before N + 1.
const KIND_RANK = { version: 0, answer: 1, escalation: 2, refused: 3 };

function events(history) {
  const entries = [
    ...history.versions.map((version) => ({ kind: "version", at: version.created_at, anchor: version.version, version })),
    ...history.acknowledgements.map((answer) => ({ kind: "answer", at: answer.recorded_at, anchor: answer.export_version, answer })),
    ...history.escalations.map((rung) => ({ kind: "escalation", at: rung.handed_at, anchor: rung.export_version, rung })),
    ...history.refused.map((refusal) => ({ kind: "refused", at: refusal.refused_at, anchor: Infinity, refusal })),
  ];
  return entries.sort((a, b) => new Date(a.at) - new Date(b.at) || a.anchor - b.anchor || KIND_RANK[a.kind] - KIND_RANK[b.kind]);
}

function lineText(line) {
  const where = line.warehouse_id ? ` from ${line.warehouse_id}` : "";
  return `${line.line_id}: ${line.sku} × ${line.quantity}, ${line.action}${where}`;
}

export function explanation(version, open) {
  const { explanation: why } = version;
  return h("details", { class: "explanation", open },
    h("summary", {}, `Why: ${why.summary}`),
    h("p", {}, "Rule applied: ", h("strong", {}, why.applied_rule || "none"),
      ` · policy v${version.decision_version.policy_version}`),
    why.rules_tried.length ? h("ul", { class: "muted" }, why.rules_tried.map((trial) =>
      h("li", {}, h("strong", {}, trial.rule), `: ${trial.outcome}`))) : null,
    why.candidates.length ? table([
      { label: "Warehouse", cell: (c) => h("strong", {}, c.warehouse_id) },
      {
        label: "Verdict",
        cell: (c) => c.kept ? h("span", { class: "badge kept" }, c.rank ? `kept, ranked #${c.rank}` : "kept")
          : h("span", { class: "badge eliminated" }, `eliminated${c.eliminated_by ? ` by ${c.eliminated_by}` : ""}`),
      },
      {
        label: "Score",
        cell: (c) => h("span", { class: "scores mono" },
          Object.entries(c.score || {}).map(([key, value]) => `${key} ${value}`).join(" · ") || "—"),
      },
      { label: "Lines given", cell: (c) => (c.allocated_lines || []).join(", ") || "—" },
      { label: "Why", cell: (c) => c.detail || "—" },
    ], why.candidates, { caption: `Candidate warehouses of version ${version.version}`,
      rowClass: (c) => `candidate ${c.kept ? "kept" : "eliminated"}` }) : h("p", { class: "muted" }, "No candidate warehouse was weighed."));
}

function versionEntry(version, isCurrent) {
  const override = version.override;
  const shipBy = version.sla.ship_by;
  return h("li", { class: `version${override ? " override" : ""}${isCurrent ? " current" : ""}`, id: `version-${version.version}` },
    h("div", { class: "entry-head" },
      h("strong", {}, `Version ${version.version}`),
      h("span", { class: "badge" }, version.intended_action),
      h("span", { class: "muted" }, override ? "manual override" : version.trigger.kind.replaceAll("_", " ")),
      isCurrent ? h("span", { class: "badge verified" }, "current") : null,
      when(version.created_at)),
    h("dl", { class: "summary-grid" },
      h("div", {}, h("dt", {}, "Owner"), h("dd", {}, version.owning_party)),
      h("div", {}, h("dt", {}, "Ship by"), h("dd", {}, shipBy ? when(shipBy) : "—")),
      h("div", {}, h("dt", {}, "Exception path"), h("dd", {}, `${version.exception_path.on}: ${version.exception_path.kind}`)),
      h("div", {}, h("dt", {}, "Lines"), h("dd", {}, version.lines.map((line) => h("div", {}, lineText(line)))))),
    override ? h("div", { class: "caution" },
      h("p", {}, h("strong", {}, `Override by ${override.signed_by.operator}`), ` (${override.reason_code})`,
        override.approved_by ? `, approved by ${override.approved_by.operator}` : "", ` of version ${override.expected_version}:`),
      h("p", {}, `“${version.justification}”`)) : null,
    explanation(version, isCurrent));
}

function answerEntry({ answer }) {
  const request = answer.request;
  const details = [request.reason_code, request.carrier, request.tracking_number, request.note].filter(Boolean).join(" · ");
  return h("li", { class: "answer" },
    h("div", { class: "entry-head" },
      h("strong", {}, `${request.warehouse_id} answered version ${answer.export_version}: ${request.kind.replaceAll("_", " ")}`),
      when(request.at)),
    details ? h("p", {}, details) : null,
    h("p", { class: "muted" }, `Lines ${answer.line_ids.join(", ")} · answer ${answer.sequence} in the chain`));
}

function refusedEntry({ refusal }) {
  return h("li", { class: "refused" },
    h("div", { class: "entry-head" },
      h("strong", {}, `Refused answer from ${refusal.request.warehouse_id || "a warehouse"}: ${refusal.request.kind || ""}`),
      when(refusal.refused_at)),
    h("p", {}, refusal.reason));
}

function escalationEntry({ rung }) {
  return h("li", { class: "escalation" },
    h("div", { class: "entry-head" },
      h("strong", {}, `Escalated to ${rung.contact}`),
      h("span", { class: "muted" }, `rung ${rung.rung + 1} for version ${rung.export_version}`),
      when(rung.handed_at)),
    h("p", {}, rung.reason));
}

function chainBadge(chain) {
  if (chain.verified) {
    return h("p", { class: "notice", id: "chain" },
      h("strong", {}, "Chain verified: "),
      `${chain.versions} version${chain.versions === 1 ? "" : "s"} and ${chain.answers} answer${chain.answers === 1 ? "" : "s"}, ` +
      "every hash recomputed and every link holds.");
  }
  return h("div", { class: "problem", id: "chain", role: "alert" },
    h("strong", {}, "Chain broken: this order's record was altered, or an entry removed or inserted."),
    h("ul", {}, chain.problems.map((problem) => h("li", {}, problem))));
}

async function policyOf(context, tenantId) {
  if (!context.policies.has(tenantId)) context.policies.set(tenantId, await get(path`tenants/${tenantId}/policy`));
  return context.policies.get(tenantId);
}

export async function renderTimeline(view, context, tenantId, orderId, { focusVersion, notice } = {}) {
  const heading = h("h1", { tabindex: "-1" }, `Order ${orderId}`);
  view.append(heading, h("p", { class: "loading" }, "Loading the order's history…"));
  let history;
  try {
    history = await get(path`tenants/${tenantId}/orders/${orderId}/history`);
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 404) throw error;
    replaceChildren(view, heading, h("p", { class: "problem", role: "alert", id: "not-found" },
      `No order ${tenantId}:${orderId} that your credential can see.`),
    h("p", {}, h("a", { href: "#/attention" }, "Back to what needs attention")));
    return;
  }
  const current = history.versions[history.versions.length - 1];
  const entries = events(history).map((entry) => {
    if (entry.kind === "version") return versionEntry(entry.version, entry.version.version === current.version);
    if (entry.kind === "answer") return answerEntry(entry);
    if (entry.kind === "refused") return refusedEntry(entry);
    return escalationEntry(entry);
  });
  const resolve = h("section", { class: "card", id: "resolve", "aria-labelledby": "resolve-title" },
    h("p", { class: "loading" }, "Loading the override form…"));
  replaceChildren(view,
    heading,
    notice ? h("p", { class: "notice", id: "override-result", role: "status" }, notice) : null,
    h("p", { class: "muted" }, `Tenant ${tenantId} · ${history.versions.length} version(s) · current `,
      h("a", { href: `#version-${current.version}`, onclick: (event) => {
        event.preventDefault();  // the fragment is the console's route: move focus instead
        document.getElementById(`version-${current.version}`).scrollIntoView();
      } }, current.export_id)),
    chainBadge(history.chain),
    h("h2", {}, "Timeline"),
    h("ol", { class: "timeline", "aria-label": `Everything that happened to order ${orderId}, oldest first` }, entries),
    resolve);
  const reload = (version, message) => {
    const fresh = h("div", { class: "view" });
    view.replaceWith(fresh);
    return renderTimeline(fresh, context, tenantId, orderId, { focusVersion: version, notice: message });
  };
  renderOverrideForm(resolve, {
    caller: context.caller, tenantId, orderId, current, policy: await policyOf(context, tenantId), reload,
  });
  const created = focusVersion && document.getElementById(`version-${focusVersion}`);
  if (created) {  // after an override: the operator lands on the version it created
    created.setAttribute("tabindex", "-1");
    created.focus();
    created.scrollIntoView({ block: "start" });
  } else if (document.activeElement === document.body) {
    heading.focus();
  }
}
