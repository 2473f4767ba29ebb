// The bytes an operator signs for an override, exactly as Meshline verifies them
// (meshline.domain.overrides.signed_payload): canonical JSON, keys sorted at every level,
// no spaces, non-ASCII characters as themselves (UTF-8). The browser tests sign what this
// produces and the API verifies it, so a drift between the two fails them.

export function canonicalJson(value) {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value).sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** A line change as the API's LineChange model dumps it (every field, null included). */
export function lineChange(lineId, action, warehouseId) {
  return { line_id: lineId, action, warehouse_id: warehouseId ?? null };
}

export function overridePayload({ tenantId, orderId, expectedVersion, reasonCode, justification, changes }) {
  return canonicalJson({
    tenant_id: tenantId,
    order_id: orderId,
    expected_version: expectedVersion,
    reason_code: reasonCode,
    justification,
    changes,
  });
}
