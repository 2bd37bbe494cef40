// The overhead chart (bench/results/overhead.svg), in the manner of the seed's Figure 5: one group
// of bars per workload, one bar per configuration, height = overhead against the native reference
// ((s - n) / n), negative bars below the axis. Plain SVG, no dependencies.

const COLORS = {
  native: '#8c8c8c',
  none: '#d9534f',
  memory: '#5b9bd5',
  self: '#2e7d32',
  peer: '#b39ddb',
};

function colorOf(id) {
  if (id.startsWith('native')) return COLORS.native;
  if (id.includes('none')) return COLORS.none;
  if (id.includes('memory')) return COLORS.memory;
  if (id.includes('self')) return COLORS.self;
  return COLORS.peer;
}

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** overheads: { workload: { configId: { label, value, bad } } } */
export function overheadChart(overheads, refId) {
  const groups = Object.entries(overheads);
  const bars = groups.map(([, cs]) => Object.entries(cs).filter(([id, c]) => id !== refId && Number.isFinite(c.value)));
  const all = bars.flat().map(([, c]) => c.value);
  const hi = Math.max(0.1, ...all);
  const lo = Math.min(0, ...all);
  const W = 960;
  const H = 420;
  const top = 40;
  const bottom = 130;
  const left = 60;
  const plotH = H - top - bottom;
  const y = (v) => top + ((hi - v) / (hi - lo)) * plotH;
  const bw = 26;
  const gap = 50;
  let x = left + 20;
  const parts = [];
  parts.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">Overhead against native (${esc(refId)}): (s − n) / n</text>`);
  // axis and grid
  const step = Math.pow(10, Math.floor(Math.log10((hi - lo) / 4)));
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) {
    parts.push(`<line x1="${left}" x2="${W - 10}" y1="${y(v)}" y2="${y(v)}" stroke="${Math.abs(v) < 1e-9 ? '#000' : '#ddd'}"/>`);
    parts.push(`<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end" font-size="11">${(v * 100).toFixed(0)}%</text>`);
  }
  groups.forEach(([name], gi) => {
    const gx = x;
    for (const [id, c] of bars[gi]) {
      const v = c.value;
      const y0 = y(Math.max(0, v));
      const h = Math.abs(y(v) - y(0));
      parts.push(`<rect x="${x}" y="${y0}" width="${bw}" height="${Math.max(1, h)}" fill="${colorOf(id)}"${c.bad ? ' fill-opacity="0.35" stroke="#c00" stroke-dasharray="3,2"' : ''}><title>${esc(c.label)}: ${(v * 100).toFixed(1)}%</title></rect>`);
      parts.push(`<text x="${x + bw / 2}" y="${v >= 0 ? y0 - 4 : y(v) + 12}" text-anchor="middle" font-size="10">${(v * 100).toFixed(0)}%</text>`);
      parts.push(`<text transform="translate(${x + bw / 2},${H - bottom + 14}) rotate(40)" font-size="10">${esc(c.label)}</text>`);
      x += bw + 4;
    }
    parts.push(`<text x="${(gx + x - 4) / 2}" y="${H - 8}" text-anchor="middle" font-size="13" font-weight="bold">${esc(name)}</text>`);
    x += gap;
  });
  const width = Math.max(W, x + 20);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${H}" font-family="sans-serif">\n<rect width="100%" height="100%" fill="#fff"/>\n${parts.join('\n')}\n</svg>\n`;
}
