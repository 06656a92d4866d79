// bench — the results plot, written as plain SVG (no plotting library): left, JIT time against program size
// on log-log axes (a straight line of slope 1 is linear scaling); right, throughput bars per workload on a log
// axis, with the ubpf anchors as reference lines.

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#17becf'];
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
/** Program sizes: 65535 → 65k. */
const size = (n) => (n >= 1e6 ? `${Math.round(n / 1e5) / 10}M` : n >= 1e3 ? `${Math.round(n / 1e3)}k` : `${n}`);
const fmt = (v) => (v >= 1e9 ? `${v / 1e9}G` : v >= 1e6 ? `${v / 1e6}M` : v >= 1e3 ? `${v / 1e3}k` : `${v}`);

function decades(lo, hi) {
  const out = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) out.push(10 ** e);
  return out;
}

/** Log-scale mapping of [lo, hi] (widened to whole decades) onto [a, b]. */
function logScale(lo, hi, a, b) {
  const l = Math.floor(Math.log10(lo));
  const h = Math.ceil(Math.log10(hi));
  return { f: (v) => a + ((Math.log10(v) - l) / (h - l || 1)) * (b - a), lo: 10 ** l, hi: 10 ** h };
}

function scalingPanel(jitRows, x0, y0, w, h) {
  const out = [];
  const pts = jitRows.filter((r) => r.effMs > 0).map((r) => ({ ...r, medianMs: r.effMs }));
  if (pts.length === 0) return '';
  const sx = logScale(Math.min(...pts.map((r) => r.slots)), Math.max(...pts.map((r) => r.slots)), x0 + 50, x0 + w - 10);
  const sy = logScale(Math.min(...pts.map((r) => r.medianMs)), Math.max(...pts.map((r) => r.medianMs)), y0 + h - 40, y0 + 30);
  out.push(`<text x="${x0 + w / 2}" y="${y0 + 16}" text-anchor="middle" font-weight="bold">JIT time vs program size (log-log)</text>`);
  for (const v of decades(sx.lo, sx.hi)) {
    const x = sx.f(v);
    out.push(`<line x1="${x}" y1="${y0 + 30}" x2="${x}" y2="${y0 + h - 40}" stroke="#ddd"/>`);
    out.push(`<text x="${x}" y="${y0 + h - 26}" text-anchor="middle" font-size="11">${fmt(v)}</text>`);
  }
  for (const v of decades(sy.lo, sy.hi)) {
    const y = sy.f(v);
    out.push(`<line x1="${x0 + 50}" y1="${y}" x2="${x0 + w - 10}" y2="${y}" stroke="#ddd"/>`);
    out.push(`<text x="${x0 + 46}" y="${y + 4}" text-anchor="end" font-size="11">${v >= 1 ? v : v.toPrecision(1)}</text>`);
  }
  out.push(`<text x="${x0 + w / 2}" y="${y0 + h - 8}" text-anchor="middle" font-size="12">BPF instructions (slots)</text>`);
  out.push(`<text x="${x0 + 12}" y="${y0 + h / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 ${x0 + 12} ${y0 + h / 2})">ms per jit() (effective)</text>`);
  // ubpf's JIT (10.4 M insns/s) as a dashed reference: linear by construction.
  const ubpf = (n) => (n / 10.4e6) * 1e3;
  const [ax, bx] = [sx.lo, sx.hi];
  const clampY = (v) => Math.min(Math.max(v, sy.lo), sy.hi);
  out.push(`<line x1="${sx.f(ax)}" y1="${sy.f(clampY(ubpf(ax)))}" x2="${sx.f(bx)}" y2="${sy.f(clampY(ubpf(bx)))}" stroke="#888" stroke-dasharray="5,4"/>`);
  const names = [...new Set(pts.map((r) => r.workload))];
  names.forEach((name, i) => {
    const rs = pts.filter((r) => r.workload === name).sort((a, b) => a.slots - b.slots);
    const c = COLORS[i % COLORS.length];
    out.push(`<polyline fill="none" stroke="${c}" stroke-width="2" points="${rs.map((r) => `${sx.f(r.slots).toFixed(1)},${sy.f(r.medianMs).toFixed(1)}`).join(' ')}"/>`);
    for (const r of rs) out.push(`<circle cx="${sx.f(r.slots).toFixed(1)}" cy="${sy.f(r.medianMs).toFixed(1)}" r="3" fill="${c}"><title>${esc(`${name} ${r.slots}: ${r.medianMs.toFixed(2)} ms`)}</title></circle>`);
    out.push(`<rect x="${x0 + 60}" y="${y0 + 36 + i * 16}" width="10" height="10" fill="${c}"/><text x="${x0 + 75}" y="${y0 + 45 + i * 16}" font-size="11">${esc(rs[0].label ?? name)}</text>`);
  });
  const ly = y0 + 36 + names.length * 16;
  out.push(`<line x1="${x0 + 60}" y1="${ly + 5}" x2="${x0 + 70}" y2="${ly + 5}" stroke="#888" stroke-dasharray="3,2"/><text x="${x0 + 75}" y="${ly + 9}" font-size="11">ubpf JIT (10.4 M insns/s)</text>`);
  return out.join('\n');
}

/** bars: [{group, label, value, unit}] ; refs: [{label, value}] drawn as horizontal dashed lines. */
function barPanel(title, bars, refs, x0, y0, w, h) {
  const out = [];
  const vals = [...bars.map((b) => b.value), ...refs.map((r) => r.value)].filter((v) => v > 0);
  if (vals.length === 0) return '';
  // Half the smallest value as the floor, so a bar never sits on the axis.
  const sy = logScale(Math.min(...vals) / 2, Math.max(...vals), y0 + h - 70, y0 + 30);
  out.push(`<text x="${x0 + w / 2}" y="${y0 + 16}" text-anchor="middle" font-weight="bold">${esc(title)}</text>`);
  for (const v of decades(sy.lo, sy.hi)) {
    const y = sy.f(v);
    out.push(`<line x1="${x0 + 50}" y1="${y}" x2="${x0 + w - 10}" y2="${y}" stroke="#ddd"/>`);
    out.push(`<text x="${x0 + 46}" y="${y + 4}" text-anchor="end" font-size="11">${fmt(v)}</text>`);
  }
  const bw = (w - 70) / Math.max(1, bars.length);
  bars.forEach((b, i) => {
    const x = x0 + 55 + i * bw;
    const y = sy.f(Math.max(b.value, sy.lo));
    const c = COLORS[(b.color ?? i) % COLORS.length];
    out.push(`<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${(bw * 0.7).toFixed(1)}" height="${(y0 + h - 70 - y).toFixed(1)}" fill="${c}"><title>${esc(`${b.label}: ${b.value.toPrecision(3)}`)}</title></rect>`);
    out.push(`<text x="${(x + bw * 0.35).toFixed(1)}" y="${(y - 3).toFixed(1)}" text-anchor="middle" font-size="10">${fmt(Number(b.value.toPrecision(3)))}</text>`);
    const tx = x + bw * 0.35;
    const ty = y0 + h - 64;
    out.push(`<text x="${tx.toFixed(1)}" y="${ty}" font-size="10" text-anchor="end" transform="rotate(-35 ${tx.toFixed(1)} ${ty})">${esc(b.label)}</text>`);
  });
  refs.forEach((r) => {
    const y = sy.f(r.value);
    out.push(`<line x1="${x0 + 50}" y1="${y}" x2="${x0 + w - 10}" y2="${y}" stroke="#555" stroke-dasharray="5,4"/>`);
    out.push(`<text x="${x0 + w - 12}" y="${y - 3}" text-anchor="end" font-size="10" fill="#555">${esc(r.label)}</text>`);
  });
  out.push(`<text x="${x0 + 12}" y="${y0 + (h - 40) / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 ${x0 + 12} ${y0 + (h - 40) / 2})">BPF instructions / s</text>`);
  return out.join('\n');
}

/** The whole figure from bench results (see run.js for the shape of `results`). */
export function plotSvg(results) {
  const W = 1200;
  const H = 430;
  // Bars at 65 535 instructions (the target size) and at the largest size, per workload.
  const names = [...new Set(results.jit.map((r) => r.workload))];
  const maxSlots = Math.max(...results.jit.map((r) => r.slots));
  const jitBars = [];
  names.forEach((name, i) => {
    for (const slots of [65_535, maxSlots]) {
      const r = results.jit.find((x) => x.workload === name && x.slots === slots);
      if (r && !jitBars.some((b) => b.row === r)) jitBars.push({ row: r, label: `${name} ${size(r.slots)}`, value: r.effInsnsPerSec, color: i });
    }
  });
  const emuBars = results.emu.map((r, i) => ({ label: r.name, value: r.effBpfInsnsPerSec ?? 0, color: i + 3 }));
  const parts = [
    scalingPanel(results.jit, 0, 0, 400, H),
    barPanel('JIT throughput', jitBars, [{ label: 'ubpf JIT 10.4M (target 10M)', value: 10.4e6 }], 400, 0, 330, H),
    barPanel('Emulated execution', emuBars, [{ label: 'ubpf interpreter 237M', value: 237e6 }, { label: 'target 1G (ALU)', value: 1e9 }], 730, 0, 470, H),
  ];
  return `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H + 20}" viewBox="0 0 ${W} ${H + 20}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
${parts.join('\n')}
<text x="${W - 8}" y="${H + 14}" text-anchor="end" font-size="10" fill="#666">${esc(results.machine?.summary ?? '')}</text>
</svg>
`;
}
