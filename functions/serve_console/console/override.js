// Resolve: a manual override of the order's current version, signed by the operator.
//
// Meshline never signs on an operator's behalf (it holds no private key; its IAM may only
// kms:Verify). So the form shows the exact bytes to sign, and takes the signature and the
// key id pasted from the operator's own signing tool (on the local stack:
// `python3 dev.py sign <operator>`). POST /tenants/{t}/orders/{o}/overrides then creates
// the next version, or says why not: 409 when the order moved on since the page was
// drawn, 403 for a signature that does not verify or a missing second approver.

import { ApiError, path, post } from "./api.js";
import { lineChange, overridePayload } from "./canonical.js";
import { announce, h, replaceChildren } from "./dom.js";

const REASON_CODES = ["manual_reroute", "address_corrected", "customer_request", "awaiting_restock", "carrier_issue"];
const REASON_PATTERN = /^[a-z][a-z_]{1,39}$/;
// What a line action makes of the export's intended action, as far as the policy's
// `second_approver_for` is concerned (the API decides for sure).
const RESULTING = { ship: "route", backorder: "backorder", cancel: "cancel", hold: "hold_for_review" };

function field(id, label, control, hint) {
  return h("div", {}, h("label", { for: id }, label), hint ? h("p", { class: "muted", id: `${id}-hint` }, hint) : null, control);
}

export function renderOverrideForm(section, { caller, tenantId, orderId, current, policy, reload }) {
  const lines = current.lines;
  const approvals = new Set(policy.overrides?.second_approver_for || []);
  const warehouses = policy.warehouses || [];

  const reason = h("input", { id: "reason-code", type: "text", list: "reason-codes", required: true, spellcheck: "false",
    autocomplete: "off", "aria-describedby": "reason-code-hint" });
  const justification = h("textarea", { id: "justification", required: true, minlength: "10", maxlength: "2000" });
  const changeSelects = lines.map((line) => h("select", { id: `change-${line.line_id}`, dataset: { line: line.line_id } },
    h("option", { value: "" }, "Keep as it is"),
    warehouses.map((warehouse) => h("option", { value: `ship:${warehouse.warehouse_id}` },
      `Ship from ${warehouse.warehouse_id} (${warehouse.name})`)),
    h("option", { value: "backorder" }, "Backorder"),
    h("option", { value: "cancel" }, "Cancel"),
    h("option", { value: "hold" }, "Hold for a person")));
  const payloadView = h("pre", { id: "payload", class: "payload", tabindex: "0", "aria-label": "The exact bytes to sign" });
  const keyId = h("input", { id: "key-id", type: "text", required: true, spellcheck: "false", autocomplete: "off",
    placeholder: `alias/meshline-<stage>-operator-${caller.party.replace(/[^a-zA-Z0-9/_-]/g, "-")}` });
  const signature = h("textarea", { id: "signature", required: true, spellcheck: "false", class: "mono",
    placeholder: "base64 of the signature" });
  const approverOperator = h("input", { id: "approver-operator", type: "text", spellcheck: "false", autocomplete: "off",
    placeholder: "agency:…" });
  const approverKeyId = h("input", { id: "approver-key-id", type: "text", spellcheck: "false", autocomplete: "off" });
  const approverSignature = h("textarea", { id: "approver-signature", spellcheck: "false", class: "mono" });
  const approverNeeds = h("p", { class: "caution", id: "approver-needed" });
  const approver = h("fieldset", { id: "approver", hidden: true },
    h("legend", {}, "Second approver"),
    approverNeeds,
    h("div", { class: "two" },
      field("approver-operator", "Approving operator", approverOperator),
      field("approver-key-id", "Their key id", approverKeyId)),
    field("approver-signature", "Their signature of the same payload (base64)", approverSignature));
  const stale = h("p", { class: "caution", id: "signature-stale", hidden: true },
    "The payload changed after the signature was pasted: sign the new payload and paste that signature.");
  const problem = h("div", { class: "problem", id: "override-problem", role: "alert", hidden: true });
  const submit = h("button", { type: "submit", id: "submit-override" }, "Submit override");

  let signedPayload = null;

  const changes = () => changeSelects
    .filter((control) => control.value)
    .map((control) => {
      const [action, warehouseId] = control.value.split(":");
      return lineChange(control.dataset.line, action, warehouseId);
    });

  const payload = () => overridePayload({
    tenantId, orderId, expectedVersion: current.version, reasonCode: reason.value.trim(),
    justification: justification.value, changes: changes(),
  });

  const approverAskedFor = () => {
    const chosen = changes();
    const after = lines.map((line) => chosen.find((change) => change.line_id === line.line_id)?.action || line.action);
    const resulting = new Set(chosen.map((change) => RESULTING[change.action]));
    if (after.every((action) => action === "cancel")) resulting.add("cancel");
    return [reason.value.trim(), ...resulting].filter((name) => approvals.has(name));
  };

  const refresh = () => {
    const text = payload();
    payloadView.textContent = text;
    stale.hidden = !(signature.value.trim() && signedPayload !== null && signedPayload !== text);
    const asked = approverAskedFor();
    approver.hidden = asked.length === 0;
    approverNeeds.textContent = `Policy version ${policy.version} asks a second operator to sign overrides for ` +
      `${asked.join(", ")}: they sign the same payload with their own key.`;
  };

  const fail = (message, ...extra) => {
    replaceChildren(problem, h("p", {}, message), ...extra);
    problem.hidden = false;
    problem.focus?.();
    announce(message);
  };

  const send = async (event) => {
    event.preventDefault();
    problem.hidden = true;
    const reasonCode = reason.value.trim();
    const chosen = changes();
    if (!REASON_PATTERN.test(reasonCode)) return fail("Reason code: lower-case letters and underscores, e.g. manual_reroute.");
    if (justification.value.trim().length < 10) return fail("Justification: say why in at least 10 characters.");
    if (!chosen.length) return fail("Line changes: choose what changes for at least one line.");
    if (!keyId.value.trim() || !signature.value.trim()) return fail("Signature: paste your key id and your signature of the payload.");
    if (!stale.hidden) return fail("The signature is of an older payload: sign the payload shown now.");
    const body = {
      expected_version: current.version, reason_code: reasonCode, justification: justification.value, changes: chosen,
      signed_by: { operator: caller.party, key_id: keyId.value.trim(), value: signature.value.trim() },
    };
    if (!approver.hidden) {
      if (!approverOperator.value.trim() || !approverKeyId.value.trim() || !approverSignature.value.trim()) {
        return fail("Second approver: this override needs another operator's signature of the same payload.");
      }
      body.approved_by = { operator: approverOperator.value.trim(), key_id: approverKeyId.value.trim(),
        value: approverSignature.value.trim() };
    }
    submit.disabled = true;
    try {
      const created = await post(path`tenants/${tenantId}/orders/${orderId}/overrides`, body);
      announce(`Version ${created.version} created`);
      await reload(created.version, `Your override created version ${created.version} (${created.export_id}).`);
    } catch (error) {
      submit.disabled = false;
      if (error instanceof ApiError && error.status === 409) {
        return fail("This order has moved on since this page was drawn, so nothing was changed. " +
          `Meshline says: ${error.message}`,
        h("p", {}, "Reload the timeline, look at the newer version, and override that one if it still needs it."),
        h("button", { type: "button", class: "secondary", id: "reload-timeline", onclick: () => reload() }, "Reload the timeline"));
      }
      return fail(`The override was refused: ${error.message}`);
    }
  };

  const rememberSigned = () => { signedPayload = payload(); refresh(); };
  for (const control of [reason, justification, ...changeSelects]) control.addEventListener("input", refresh);
  for (const control of changeSelects) control.addEventListener("change", refresh);
  signature.addEventListener("input", rememberSigned);

  const copy = h("button", { type: "button", class: "secondary", id: "copy-payload", onclick: async () => {
    try {
      await navigator.clipboard.writeText(payload());
      announce("Payload copied");
    } catch {
      announce("Copying is not allowed here: select the payload and copy it");
    }
  } }, "Copy payload");

  replaceChildren(section,
    h("h2", { id: "resolve-title" }, `Resolve: override version ${current.version}`),
    h("p", {}, `Your override creates version ${current.version + 1}, signed with your own key as ${caller.party}. ` +
      "Meshline verifies the signature; it never signs for you."),
    h("form", { id: "override-form", novalidate: true, onsubmit: send },
      h("datalist", { id: "reason-codes" }, REASON_CODES.map((code) => h("option", { value: code }))),
      h("div", { class: "two" },
        field("reason-code", "Reason code", reason, "e.g. manual_reroute, address_corrected, customer_request"),
        field("justification", "Justification", justification)),
      h("fieldset", {},
        h("legend", {}, "Line changes"),
        lines.map((line, index) => field(changeSelects[index].id,
          `Line ${line.line_id}: ${line.sku} × ${line.quantity} (now ${line.action}${line.warehouse_id ? ` from ${line.warehouse_id}` : ""})`,
          changeSelects[index]))),
      h("fieldset", {},
        h("legend", {}, "Sign"),
        h("p", {}, "Sign exactly these bytes (UTF-8, nothing added) with your own signing key. On the local stack: ",
          h("code", {}, `python3 dev.py sign ${caller.party}`), ", paste the payload, and copy back what it prints."),
        payloadView,
        h("div", { class: "actions" }, copy),
        h("p", {}, "Signed by ", h("strong", { id: "signer" }, caller.party), " (this credential's operator)."),
        field("key-id", "Your key id", keyId),
        field("signature", "Your signature (base64)", signature),
        stale),
      approver,
      problem,
      h("div", { class: "actions" }, submit)));
  problem.setAttribute("tabindex", "-1");
  refresh();
}
