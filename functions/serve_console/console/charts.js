// Charts drawn as inline SVG, no library. Every mark (a point, a bar) can be reached with
// Tab and shows its number in a tooltip on hover or focus; its aria-label says the same
// for screen readers. Colours come from the stylesheet (classes s0..s4): nothing inline.

import { h, s } from "./dom.js";

const tooltip = () => document.getElementById("tooltip");
let tipOwner = null;  // the mark whose number is shown

function showTip(target, text) {
  const tip = tooltip();
  tipOwner = target;
  tip.textContent = text;
  tip.hidden = false;
  const box = target.getBoundingClientRect();
  const left = Math.min(Math.max(box.left + box.width / 2 + window.scrollX - tip.offsetWidth / 2, 4 + window.scrollX),
    window.scrollX + document.documentElement.clientWidth - tip.offsetWidth - 4);
  // CSSOM, not a style attribute: allowed under the page's style-src 'self'.
  tip.style.left = `${left}px`;
  tip.style.top = `${box.top + window.scrollY - tip.offsetHeight - 8}px`;
}

/** Only the mark that shows the tooltip hides it: focusing a mark may scroll the page
 * and move another from under the pointer, whose mouseleave must not hide the new one. */
function hideTip(event) {
  if (event.currentTarget !== tipOwner) return;
  tipOwner = null;
  tooltip().hidden = true;
}

/** A focusable mark that tells its number on hover and focus. */
function mark(element, text) {
  element.setAttribute("tabindex", "0");
  element.setAttribute("role", "img");
  element.setAttribute("aria-label", text);
  element.dataset.tip = text;
  element.addEventListener("mouseenter", () => showTip(element, text));
  element.addEventListener("focus", () => showTip(element, text));
  element.addEventListener("mouseleave", hideTip);
  element.addEventListener("blur", hideTip);
  return element;
}

/** Drawn at about the size it is shown (text stays legible): two cards a row on a laptop, one on a phone. */
export function chartWidth() {
  const main = document.getElementById("main").clientWidth;
  const card = (main >= 1000 ? main / 2 : main) - 48;
  return Math.round(Math.min(640, Math.max(340, card)));
}

/** 2026-11-21 -> 11-21, 2026-W47 -> W47: the window's year is in the filters above. */
function shortPeriod(period) {
  return period.replace(/^\d{4}-(W?\d)/, "$1");
}

/** A round duration at or above `seconds`, so the axis reads 0, 30 min, 1 h. */
export function niceDuration(seconds) {
  const steps = [60, 120, 300, 600, 1200, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 345600, 604800];
  return steps.find((step) => step >= seconds) || niceMax(seconds);
}

function niceMax(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 2.5, 5, 10].map((step) => step * power).find((candidate) => candidate >= value);
}

export function legend(names) {
  return h("ul", { class: "legend" }, names.map((name, index) =>
    h("li", {}, h("span", { class: `swatch s${index % 5}` }), name)));
}

/**
 * Lines over periods: series = [{name, points: [{period, value (0..yMax or null), text}]}].
 * A null value leaves a gap (e.g. a day nothing shipped from that warehouse).
 */
export function lineChart({ label, periods, series, yMax = 100, yFormat = (v) => `${v}%`, width = chartWidth() }) {
  const height = 240;
  const margin = { top: 14, right: 24, bottom: 34, left: 46 };
  const plotWidth = width - margin.left - margin.right;
  const plotHeight = height - margin.top - margin.bottom;
  const x = (index) => margin.left + (periods.length === 1 ? plotWidth / 2 : (index * plotWidth) / (periods.length - 1));
  const y = (value) => margin.top + plotHeight - (value / yMax) * plotHeight;
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((share) => share * yMax);
  const every = Math.max(1, Math.ceil(periods.length / Math.floor(width / 60)));
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, role: "group", "aria-label": label },
    ticks.map((tick) => [
      s("line", { class: "grid", x1: margin.left, x2: width - margin.right, y1: y(tick), y2: y(tick) }),
      s("text", { x: margin.left - 6, y: y(tick) + 4, "text-anchor": "end" }, yFormat(tick)),
    ]),
    s("line", { class: "axis", x1: margin.left, x2: width - margin.right, y1: y(0), y2: y(0) }),
    periods.map((period, index) => index % every ? null :
      s("text", { x: x(index), y: height - margin.bottom + 18, "text-anchor": "middle" }, shortPeriod(period))));
  series.forEach((line, seriesIndex) => {
    const byPeriod = new Map(line.points.map((point) => [point.period, point]));
    let segment = [];
    const segments = [];
    periods.forEach((period, index) => {
      const point = byPeriod.get(period);
      if (point && point.value !== null) segment.push([x(index), y(point.value)]);
      else if (segment.length) { segments.push(segment); segment = []; }
    });
    if (segment.length) segments.push(segment);
    for (const part of segments) {
      svg.append(s("path", { class: `line s${seriesIndex % 5}`, d: part.map(([px, py], i) => `${i ? "L" : "M"}${px},${py}`).join(" ") }));
    }
    periods.forEach((period, index) => {
      const point = byPeriod.get(period);
      if (!point || point.value === null) return;
      svg.append(mark(s("circle", { class: `point s${seriesIndex % 5}`, cx: x(index), cy: y(point.value), r: 5,
        dataset: { series: line.name, period } }), point.text));
    });
  });
  return svg;
}

/** Horizontal bars: bars = [{label, value, text}], longest first. */
export function barChart({ label, bars, format = String, width = chartWidth() }) {
  const labelWidth = Math.round(width * 0.45);
  const fits = Math.floor(labelWidth / 6.6);  // characters of 12 px text
  const row = 30;
  const margin = { top: 8, right: 46, bottom: 8, left: labelWidth };
  const height = margin.top + margin.bottom + Math.max(1, bars.length) * row;
  const max = niceMax(Math.max(0, ...bars.map((bar) => bar.value)));
  const scale = (value) => (value / max) * (width - margin.left - margin.right);
  return s("svg", { viewBox: `0 0 ${width} ${height}`, role: "group", "aria-label": label },
    bars.map((bar, index) => {
      const top = margin.top + index * row;
      return [
        s("text", { class: "label", x: margin.left - 8, y: top + row / 2 + 4, "text-anchor": "end" },
          bar.label.length > fits ? `${bar.label.slice(0, fits - 1)}…` : bar.label),
        mark(s("rect", { class: `bar s${index % 5}`, x: margin.left, y: top + 5, height: row - 10,
          width: Math.max(2, scale(bar.value)), dataset: { label: bar.label } }), bar.text),
        s("text", { x: margin.left + Math.max(2, scale(bar.value)) + 6, y: top + row / 2 + 4 }, format(bar.value)),
      ];
    }));
}

/**
 * Vertical bars in groups: groups = [{label, bars: [{value, text} | null]}], one bar per
 * series in the same order as `seriesNames` (shown by `legend`).
 */
export function groupedBarChart({ label, groups, seriesNames, format = String, roundUp = niceMax, width = chartWidth() }) {
  const height = 240;
  const margin = { top: 14, right: 10, bottom: 34, left: 56 };
  const plotWidth = width - margin.left - margin.right;
  const plotHeight = height - margin.top - margin.bottom;
  const max = roundUp(Math.max(0, ...groups.flatMap((group) => group.bars.map((bar) => bar?.value ?? 0))));
  const y = (value) => margin.top + plotHeight - (value / max) * plotHeight;
  const groupWidth = plotWidth / Math.max(1, groups.length);
  const barWidth = Math.min(34, (groupWidth * 0.8) / Math.max(1, seriesNames.length));
  const ticks = [0, 0.5, 1].map((share) => share * max);
  return s("svg", { viewBox: `0 0 ${width} ${height}`, role: "group", "aria-label": label },
    ticks.map((tick) => [
      s("line", { class: "grid", x1: margin.left, x2: width - margin.right, y1: y(tick), y2: y(tick) }),
      s("text", { x: margin.left - 6, y: y(tick) + 4, "text-anchor": "end" }, format(tick)),
    ]),
    s("line", { class: "axis", x1: margin.left, x2: width - margin.right, y1: y(0), y2: y(0) }),
    groups.map((group, groupIndex) => {
      const start = margin.left + groupIndex * groupWidth + (groupWidth - barWidth * seriesNames.length) / 2;
      return [
        s("text", { class: "label", x: margin.left + groupIndex * groupWidth + groupWidth / 2, y: height - 12,
          "text-anchor": "middle" }, group.label),
        group.bars.map((bar, seriesIndex) => bar === null ? null :
          mark(s("rect", { class: `bar s${seriesIndex % 5}`, x: start + seriesIndex * barWidth + 1, width: barWidth - 2,
            y: y(bar.value), height: Math.max(1, y(0) - y(bar.value)),
            dataset: { group: group.label, series: seriesNames[seriesIndex] } }), bar.text)),
      ];
    }));
}
