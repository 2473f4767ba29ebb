// Building the page: elements are made with text nodes only (never innerHTML), so nothing
// the API returns (a justification, a reason) can ever run as markup.

const SVG_NS = "http://www.w3.org/2000/svg";

function setAttributes(element, attributes) {
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (name === "dataset") {
      Object.assign(element.dataset, value);
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
}

function appendChildren(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** h("p", {class: "x"}, "text", h("b", {}, "bold")) */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  setAttributes(element, attributes);
  appendChildren(element, children);
  return element;
}

/** The same for SVG elements (charts). */
export function s(tag, attributes = {}, ...children) {
  const element = document.createElementNS(SVG_NS, tag);
  setAttributes(element, attributes);
  appendChildren(element, children);
  return element;
}

export function replaceChildren(element, ...children) {
  element.replaceChildren();
  appendChildren(element, children);
  return element;
}

/** Says something to screen readers without moving focus. */
export function announce(message) {
  const live = document.getElementById("live");
  live.textContent = "";
  // A new text node a moment later is announced even when the message repeats.
  setTimeout(() => { live.textContent = message; }, 50);
}

const DATE_TIME = new Intl.DateTimeFormat(undefined, {
  weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit",
});

/** A <time> in the reader's own zone; the exact UTC instant on hover. */
export function when(iso) {
  if (!iso) return h("span", { class: "muted" }, "—");
  return h("time", { datetime: iso, title: iso }, DATE_TIME.format(new Date(iso)));
}

/** 7260 -> "2 h 01 min"; -90 -> "overdue by 1 min" */
export function timeLeft(seconds) {
  const magnitude = Math.abs(seconds);
  const days = Math.floor(magnitude / 86400);
  const hours = Math.floor((magnitude % 86400) / 3600);
  const minutes = Math.floor((magnitude % 3600) / 60);
  let text;
  if (days) text = `${days} d ${hours} h`;
  else if (hours) text = `${hours} h ${String(minutes).padStart(2, "0")} min`;
  else if (minutes) text = `${minutes} min`;
  else text = `${magnitude} s`;
  return seconds < 0 ? `overdue by ${text}` : text;
}

/** 5400 -> "1.5 h", 7200 -> "2 h", 300 -> "5 min", 42 -> "42 s" */
export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const tenths = (value) => String(Math.round(value * 10) / 10);
  if (seconds >= 86400) return `${tenths(seconds / 86400)} d`;
  if (seconds >= 3600) return `${tenths(seconds / 3600)} h`;
  if (seconds >= 60) return `${Math.round(seconds / 60)} min`;
  return `${Math.round(seconds)} s`;
}

export function percent(rate) {
  return rate === null || rate === undefined ? "—" : `${Math.round(rate * 1000) / 10}%`;
}

/** A table that becomes one card per row on a phone: each cell carries its column's name. */
export function table(columns, rows, { caption, rowClass } = {}) {
  return h("div", { class: "scroll" },
    h("table", { class: "stack" },
      caption ? h("caption", { class: "visually-hidden" }, caption) : null,
      h("thead", {}, h("tr", {}, columns.map((column) =>
        h("th", { scope: "col", class: column.numeric ? "number" : null }, column.label)))),
      h("tbody", {}, rows.map((row) =>
        h("tr", { class: rowClass ? rowClass(row) : null },
          columns.map((column) => h("td", { "data-label": column.label, class: column.numeric ? "number" : null },
            column.cell(row))))))));
}
