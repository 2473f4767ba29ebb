// Report rows as CSV, made in the browser from what the API returned: what is downloaded
// is exactly what the charts show.

function cell(value) {
  if (value === null || value === undefined) return "";
  let text = String(value);
  // A text cell starting with = + - @ would be run as a formula by a spreadsheet
  // (CSV injection): prefix it with a quote. Numbers are left as they are.
  if (typeof value === "string" && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** columns: [[header, (row) => value], ...] */
export function toCsv(columns, rows) {
  const lines = [columns.map(([header]) => cell(header)).join(",")];
  for (const row of rows) lines.push(columns.map(([, value]) => cell(value(row))).join(","));
  return `${lines.join("\r\n")}\r\n`;
}

export function downloadCsv(filename, text) {
  const url = URL.createObjectURL(new Blob([text], { type: "text/csv;charset=utf-8" }));
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
