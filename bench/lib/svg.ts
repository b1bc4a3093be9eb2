/**
 * Hand-written SVG charts for bench/results (no dependency): grouped vertical bars, horizontal
 * bars, and a line chart. Plain SVG 1.1 with inline styles, so GitHub renders it in a README.
 */

const FONT = `font-family="-apple-system,Segoe UI,Helvetica,Arial,sans-serif"`;

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function frame(width: number, height: number, title: string, body: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="12">
<rect width="${width}" height="${height}" fill="#ffffff"/>
<text x="${width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="600">${esc(title)}</text>
${body}
</svg>
`;
}

/** Short numbers: 1.2k, 3.4M, 0.35. */
export function short(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`;
  if (a >= 1e3) return `${+(v / 1e3).toPrecision(3)}k`;
  if (a >= 1) return `${+v.toPrecision(3)}`;
  if (a === 0) return "0";
  return `${+v.toPrecision(2)}`;
}

/** Log-scale ticks (1, 2, 5 per decade) between lo and hi. */
function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= lo * 0.999 && v <= hi * 1.001) out.push(v);
    }
  }
  return out;
}

function niceMax(v: number): number {
  const e = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * e >= v) return m * e;
  return 10 * e;
}

export interface Series {
  name: string;
  color: string;
}

export interface BarGroup {
  label: string;
  /** One value per series (NaN = missing). */
  values: number[];
}

/**
 * Grouped vertical bars on a log axis (latencies across percentiles). `sections` put a second
 * label under consecutive groups (e.g. the configuration of four percentile groups).
 */
export function groupedBars(o: {
  title: string;
  unit: string;
  series: Series[];
  groups: BarGroup[];
  sections?: { label: string; groups: number }[];
  width?: number;
}): string {
  const width = o.width ?? Math.max(520, 90 + o.groups.length * (o.series.length * 22 + 26));
  const height = 340;
  const left = 60;
  const right = 16;
  const top = 50;
  const bottom = 70;
  const plotH = height - top - bottom;
  const all = o.groups.flatMap((g) => g.values).filter((v) => Number.isFinite(v) && v > 0);
  const lo = 10 ** Math.floor(Math.log10(Math.min(...all)));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...all)));
  const y = (v: number): number => top + plotH - ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * plotH;
  const parts: string[] = [];
  for (const t of logTicks(lo, hi)) {
    parts.push(`<line x1="${left}" x2="${width - right}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${left - 6}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end" fill="#555">${short(t)}</text>`);
  }
  parts.push(`<text x="14" y="${top + plotH / 2}" transform="rotate(-90 14 ${top + plotH / 2})" text-anchor="middle" fill="#555">${esc(o.unit)} (log scale)</text>`);
  const groupW = (width - left - right) / o.groups.length;
  const barW = Math.min(22, (groupW - 16) / o.series.length);
  o.groups.forEach((g, gi) => {
    const gx = left + gi * groupW + (groupW - barW * o.series.length) / 2;
    g.values.forEach((v, si) => {
      if (!Number.isFinite(v) || v <= 0) return;
      const x = gx + si * barW;
      const yy = y(v);
      parts.push(
        `<rect x="${x.toFixed(1)}" y="${yy.toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(top + plotH - yy).toFixed(1)}" fill="${o.series[si]!.color}"><title>${esc(`${g.label} · ${o.series[si]!.name}: ${short(v)} ${o.unit}`)}</title></rect>`,
      );
      parts.push(`<text x="${(x + (barW - 2) / 2).toFixed(1)}" y="${(yy - 3).toFixed(1)}" text-anchor="middle" font-size="9" fill="#333">${short(v)}</text>`);
    });
    const lines = g.label.split("\n");
    lines.forEach((l, li) => parts.push(`<text x="${(left + gi * groupW + groupW / 2).toFixed(1)}" y="${top + plotH + 16 + li * 13}" text-anchor="middle" fill="#333">${esc(l)}</text>`));
  });
  parts.push(`<line x1="${left}" x2="${width - right}" y1="${top + plotH}" y2="${top + plotH}" stroke="#888"/>`);
  let at = 0;
  for (const sec of o.sections ?? []) {
    const x0 = left + at * groupW;
    const x1 = left + (at + sec.groups) * groupW;
    parts.push(`<text x="${((x0 + x1) / 2).toFixed(1)}" y="${top + plotH + 36}" text-anchor="middle" font-weight="600" fill="#333">${esc(sec.label)}</text>`);
    if (at > 0) parts.push(`<line x1="${x0.toFixed(1)}" x2="${x0.toFixed(1)}" y1="${top}" y2="${top + plotH + 40}" stroke="#bbb" stroke-dasharray="3 3"/>`);
    at += sec.groups;
  }
  o.series.forEach((s, i) => {
    const x = left + i * 150;
    parts.push(`<rect x="${x}" y="32" width="12" height="12" fill="${s.color}"/><text x="${x + 16}" y="42">${esc(s.name)}</text>`);
  });
  return frame(width, height, o.title, parts.join("\n"));
}

export interface HBar {
  label: string;
  value: number;
  color: string;
  /** Text after the bar (default: the value). */
  text?: string;
}

/** Horizontal bars on a log axis (throughputs spanning decades). */
export function horizontalBars(o: { title: string; unit: string; bars: HBar[]; width?: number }): string {
  const width = o.width ?? 760;
  const left = 300;
  const right = 120;
  const top = 36;
  const rowH = 26;
  const height = top + o.bars.length * rowH + 40;
  const vals = o.bars.map((b) => b.value).filter((v) => Number.isFinite(v) && v > 0);
  const lo = 10 ** Math.floor(Math.log10(Math.min(...vals)));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...vals)));
  const plotW = width - left - right;
  const x = (v: number): number => left + ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * plotW;
  const parts: string[] = [];
  const plotBottom = top + o.bars.length * rowH;
  for (const t of logTicks(lo, hi)) {
    parts.push(`<line x1="${x(t).toFixed(1)}" x2="${x(t).toFixed(1)}" y1="${top}" y2="${plotBottom}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${x(t).toFixed(1)}" y="${plotBottom + 14}" text-anchor="middle" fill="#555" font-size="10">${short(t)}</text>`);
  }
  parts.push(`<text x="${left + plotW / 2}" y="${plotBottom + 30}" text-anchor="middle" fill="#555">${esc(o.unit)} (log scale)</text>`);
  o.bars.forEach((b, i) => {
    const yy = top + i * rowH;
    parts.push(`<text x="${left - 8}" y="${yy + 17}" text-anchor="end" fill="#333">${esc(b.label)}</text>`);
    if (!Number.isFinite(b.value) || b.value <= 0) return;
    const w = Math.max(1, x(b.value) - left);
    parts.push(`<rect x="${left}" y="${yy + 4}" width="${w.toFixed(1)}" height="${rowH - 8}" fill="${b.color}"><title>${esc(`${b.label}: ${short(b.value)} ${o.unit}`)}</title></rect>`);
    parts.push(`<text x="${(left + w + 6).toFixed(1)}" y="${yy + 17}" fill="#333">${esc(b.text ?? short(b.value))}</text>`);
  });
  return frame(width, height, o.title, parts.join("\n"));
}

/** A line chart (linear axes) with an optional horizontal goal line. */
export function lineChart(o: {
  title: string;
  xLabel: string;
  yLabel: string;
  points: { x: number; y: number; label?: string }[];
  goal?: { y: number; label: string };
  width?: number;
}): string {
  const width = o.width ?? 560;
  const height = 340;
  const left = 64;
  const right = 24;
  const top = 40;
  const bottom = 56;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const xMax = niceMax(Math.max(...o.points.map((p) => p.x)));
  const yTop = niceMax(Math.max(...o.points.map((p) => p.y), o.goal && o.goal.y <= 2 * Math.max(...o.points.map((p) => p.y)) ? o.goal.y : 0) * 1.1);
  const X = (v: number): number => left + (v / xMax) * plotW;
  const Y = (v: number): number => top + plotH - (v / yTop) * plotH;
  const parts: string[] = [];
  for (let i = 0; i <= 5; i++) {
    const ty = (yTop * i) / 5;
    const tx = (xMax * i) / 5;
    parts.push(`<line x1="${left}" x2="${width - right}" y1="${Y(ty).toFixed(1)}" y2="${Y(ty).toFixed(1)}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${left - 6}" y="${(Y(ty) + 4).toFixed(1)}" text-anchor="end" fill="#555">${short(ty)}</text>`);
    parts.push(`<text x="${X(tx).toFixed(1)}" y="${top + plotH + 16}" text-anchor="middle" fill="#555">${short(tx)}</text>`);
  }
  parts.push(`<line x1="${left}" x2="${width - right}" y1="${top + plotH}" y2="${top + plotH}" stroke="#888"/>`);
  parts.push(`<line x1="${left}" x2="${left}" y1="${top}" y2="${top + plotH}" stroke="#888"/>`);
  parts.push(`<text x="${left + plotW / 2}" y="${height - 14}" text-anchor="middle" fill="#555">${esc(o.xLabel)}</text>`);
  parts.push(`<text x="16" y="${top + plotH / 2}" transform="rotate(-90 16 ${top + plotH / 2})" text-anchor="middle" fill="#555">${esc(o.yLabel)}</text>`);
  if (o.goal !== undefined && o.goal.y <= yTop) {
    parts.push(`<line x1="${left}" x2="${width - right}" y1="${Y(o.goal.y).toFixed(1)}" y2="${Y(o.goal.y).toFixed(1)}" stroke="#d62728" stroke-dasharray="6 4"/>`);
    parts.push(`<text x="${width - right - 4}" y="${(Y(o.goal.y) - 5).toFixed(1)}" text-anchor="end" fill="#d62728">${esc(o.goal.label)}</text>`);
  }
  const pts = [...o.points].sort((a, b) => a.x - b.x);
  parts.push(`<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="${pts.map((p) => `${X(p.x).toFixed(1)},${Y(p.y).toFixed(1)}`).join(" ")}"/>`);
  for (const p of pts) {
    parts.push(`<circle cx="${X(p.x).toFixed(1)}" cy="${Y(p.y).toFixed(1)}" r="4" fill="#1f77b4"/>`);
    parts.push(`<text x="${X(p.x).toFixed(1)}" y="${(Y(p.y) - 9).toFixed(1)}" text-anchor="middle" fill="#333">${esc(p.label ?? short(p.y))}</text>`);
  }
  return frame(width, height, o.title, parts.join("\n"));
}
