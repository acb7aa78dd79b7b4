/**
 * The charts of global explanations as SVG text, drawn the same in the app (which adds hover and
 * click through the data-* attributes) and in the exported report (where the <title> tooltips still
 * work): concept bars, concept shares across layers, method ranking with intervals, heatmaps.
 * Every string that comes from labels is escaped.
 */
import type { ClassAtlas, ConceptScore, Heatmap, MethodRow } from './schemas/aggregate.ts';

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const FONT = 'font-family="system-ui, sans-serif" font-size="12"';
const PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#e15759',
  '#76b7b2',
  '#59a14f',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac',
];
/** A number for charts and tables: fixed digits, an en dash for none. */
export const fmt = (x: number | null | undefined, digits = 2) =>
  x === null || x === undefined ? '–' : x.toFixed(digits);

export function colourOf(index: number): string {
  return PALETTE[index % PALETTE.length]!;
}

/** Horizontal bars of concept scores, one row per concept; a selected concept is outlined. */
export function conceptBars(
  concepts: readonly ConceptScore[],
  options: { width?: number; selected?: string | null; limit?: number } = {},
): string {
  const rows = concepts.slice(0, options.limit ?? 12);
  const width = options.width ?? 520;
  const label = 150;
  const right = 110;
  const rowH = 24;
  const height = rows.length * rowH + 28;
  const max = Math.max(...rows.map((c) => c.score), 1e-9);
  const span = width - label - right;
  const bars = rows
    .map((c, i) => {
      const y = 8 + i * rowH;
      const w = Math.max(1, (c.score / max) * span);
      const selected = options.selected === c.concept;
      const tip = `${c.name}: score ${fmt(c.score)} (share ${fmt(c.share)}), ${c.labels} labels from ${c.people} people on ${c.images} images`;
      return `<g class="bar" data-concept="${escapeXml(c.concept)}" tabindex="0" role="button" aria-label="${escapeXml(tip)}" style="cursor:pointer">
<title>${escapeXml(tip)}</title>
<rect x="0" y="${y}" width="${width}" height="${rowH - 2}" fill="${selected ? 'rgba(78,121,167,0.12)' : 'transparent'}"/>
<text x="${label - 8}" y="${y + 15}" text-anchor="end" fill="currentColor">${escapeXml(c.name)}</text>
<rect x="${label}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowH - 8}" rx="2" fill="${colourOf(i)}" stroke="${selected ? 'currentColor' : 'none'}" stroke-width="1.5"/>
<text x="${(label + w + 6).toFixed(1)}" y="${y + 15}" fill="currentColor">${fmt(c.score)} · ${c.people}p · ${c.images}img</text>
</g>`;
    })
    .join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" class="plot concept-bars" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" ${FONT} role="img" aria-label="Concept scores">
${bars}
<text x="${label}" y="${height - 6}" fill="currentColor" opacity="0.7">score = frequency × (1 − 0.1 × reveal step), ÷4 when wrong</text>
</svg>`;
}

/** The share of the top concepts in each layer, layers in model order; a highlighted concept is drawn thick. */
export function layerLines(
  atlas: ClassAtlas,
  options: { width?: number; concepts?: readonly string[]; highlight?: string | null } = {},
): string {
  const layers = atlas.layers;
  const width = options.width ?? 520;
  const height = 240;
  const left = 44;
  const bottom = 56;
  const top = 14;
  const legend = 130;
  const plotW = width - left - legend - 10;
  const plotH = height - top - bottom;
  const chosen = options.concepts ?? atlas.concepts.slice(0, 6).map((c) => c.concept);
  if (layers.length < 2)
    return `<svg xmlns="http://www.w3.org/2000/svg" class="plot layer-lines" viewBox="0 0 ${width} 40" width="${width}" height="40" ${FONT}><text x="0" y="24" fill="currentColor">Labels refer to ${layers.length === 1 ? 'one layer' : 'no layer'}: no trend across layers to draw.</text></svg>`;
  const series = chosen.map((concept) => ({
    concept,
    name: atlas.concepts.find((c) => c.concept === concept)?.name ?? concept,
    ys: layers.map((l) => l.concepts.find((c) => c.concept === concept)?.share ?? 0),
  }));
  const max = Math.max(1e-9, ...series.flatMap((s) => s.ys));
  const x = (i: number) => left + (layers.length === 1 ? plotW / 2 : (i / (layers.length - 1)) * plotW);
  const y = (v: number) => top + plotH - (v / max) * plotH;
  const grid = [0, 0.5, 1]
    .map(
      (f) =>
        `<line x1="${left}" x2="${left + plotW}" y1="${y(f * max).toFixed(1)}" y2="${y(f * max).toFixed(1)}" stroke="currentColor" opacity="0.15"/><text x="${left - 6}" y="${(y(f * max) + 4).toFixed(1)}" text-anchor="end" fill="currentColor" opacity="0.7">${fmt(f * max)}</text>`,
    )
    .join('');
  const names = layerNames(layers.map((l) => l.layer));
  const ticks = layers
    .map(
      (l, i) =>
        `<text x="${x(i).toFixed(1)}" y="${top + plotH + 16}" text-anchor="middle" fill="currentColor"><title>${escapeXml(l.layer)}: ${l.answers} answers</title>${escapeXml(shorten(names[i]!, 16))}</text>`,
    )
    .join('');
  const lines = series
    .map((s, k) => {
      const thick = options.highlight === s.concept;
      const points = s.ys.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
      const dots = s.ys
        .map(
          (v, i) =>
            `<circle cx="${x(i).toFixed(1)}" cy="${y(v).toFixed(1)}" r="${thick ? 4.5 : 3}" fill="${colourOf(k)}"><title>${escapeXml(`${s.name} at ${layers[i]!.layer}: share ${fmt(v)}`)}</title></circle>`,
        )
        .join('');
      return `<g class="line" data-concept="${escapeXml(s.concept)}" style="cursor:pointer" opacity="${options.highlight && !thick ? 0.35 : 1}"><polyline points="${points}" fill="none" stroke="${colourOf(k)}" stroke-width="${thick ? 3.5 : 2}"/>${dots}</g>`;
    })
    .join('\n');
  const key = series
    .map(
      (s, k) =>
        `<g class="legend" data-concept="${escapeXml(s.concept)}" style="cursor:pointer"><rect x="${left + plotW + 16}" y="${top + k * 18}" width="10" height="10" fill="${colourOf(k)}"/><text x="${left + plotW + 30}" y="${top + k * 18 + 9}" fill="currentColor">${escapeXml(shorten(s.name, 14))}</text></g>`,
    )
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" class="plot layer-lines" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" ${FONT} role="img" aria-label="Concept share across layers">
${grid}${ticks}
<text x="${left + plotW / 2}" y="${height - 8}" text-anchor="middle" fill="currentColor" opacity="0.7">layer (input → output); share = score ÷ labelled answers</text>
${lines}${key}
</svg>`;
}

/** Short layer names for axis ticks: the ONNX "_output_0" suffix and the prefix all names share removed. */
export function layerNames(layers: readonly string[]): string[] {
  const bare = layers.map((l) => l.replace(/_output_\d+$/, ''));
  let common = 0;
  if (bare.length > 1) while (common < bare[0]!.length && bare.every((b) => b[common] === bare[0]![common])) common++;
  // Cut back to a separator so a name never starts mid-word.
  const cut = bare[0]!.lastIndexOf('/', common - 1) + 1;
  return bare.map((b) => b.slice(bare.length > 1 ? cut : b.lastIndexOf('/', b.length - 2) + 1) || b);
}

function shorten(text: string, n: number): string {
  return text.length > n ? `${text.slice(0, n - 1)}…` : text;
}

/**
 * Each method's mean "justifies" rating with its 95 % interval: the filled dot is reliability-weighted,
 * the hollow one unweighted. Methods without ratings show their Bradley-Terry score instead, on its own axis.
 */
export function rankingChart(
  rows: readonly MethodRow[],
  options: { width?: number; scale?: string; selected?: string | null } = {},
): string {
  const scale = options.scale ?? 'justifies';
  const width = options.width ?? 520;
  const left = 130;
  const right = 20;
  const rowH = 26;
  const rated = rows.filter((r) => r.ratings[scale]?.unweighted.mean !== null && r.ratings[scale] !== undefined);
  if (rated.length === 0) return btChart(rows, width);
  const height = rated.length * rowH + 46;
  const plotW = width - left - right;
  const x = (v: number) => left + ((v - 1) / 4) * plotW;
  const axis = [1, 2, 3, 4, 5]
    .map(
      (v) =>
        `<line x1="${x(v)}" x2="${x(v)}" y1="6" y2="${height - 34}" stroke="currentColor" opacity="0.15"/><text x="${x(v)}" y="${height - 20}" text-anchor="middle" fill="currentColor">${v}</text>`,
    )
    .join('');
  const marks = rated
    .map((r, i) => {
      const y = 18 + i * rowH;
      const u = r.ratings[scale]!.unweighted;
      const w = r.ratings[scale]!.weighted;
      const tip = `${r.method}: weighted ${fmt(w.mean)} [${fmt(w.low)}, ${fmt(w.high)}], unweighted ${fmt(u.mean)} [${fmt(u.low)}, ${fmt(u.high)}], n = ${u.n}`;
      const clamp = (v: number | null) => x(Math.min(5, Math.max(1, v ?? 1)));
      const whisker = (ci: typeof u, dy: number, colour: string) =>
        ci.low === null
          ? ''
          : `<line x1="${clamp(ci.low).toFixed(1)}" x2="${clamp(ci.high).toFixed(1)}" y1="${y + dy}" y2="${y + dy}" stroke="${colour}" stroke-width="2"/>`;
      const selected = options.selected === r.method;
      return `<g class="method" data-method="${escapeXml(r.method)}" style="cursor:pointer"><title>${escapeXml(tip)}</title>
<rect x="0" y="${y - 11}" width="${width}" height="${rowH - 2}" fill="${selected ? 'rgba(78,121,167,0.12)' : 'transparent'}"/>
<text x="${left - 10}" y="${y + 4}" text-anchor="end" fill="currentColor">${r.humanRank ? `${r.humanRank}. ` : ''}${escapeXml(r.method)}</text>
${whisker(w, -3, colourOf(0))}${whisker(u, 4, '#999')}
<circle cx="${clamp(w.mean).toFixed(1)}" cy="${y - 3}" r="5" fill="${colourOf(0)}"/>
<circle cx="${clamp(u.mean).toFixed(1)}" cy="${y + 4}" r="4" fill="none" stroke="#999" stroke-width="1.5"/>
</g>`;
    })
    .join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" class="plot ranking" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" ${FONT} role="img" aria-label="Method ranking">
${axis}${marks}
<text x="${left}" y="${height - 4}" fill="currentColor" opacity="0.7">“${escapeXml(scale)}” 1–5: ● weighted by reliability, ○ unweighted, 95 % intervals</text>
</svg>`;
}

function btChart(rows: readonly MethodRow[], width: number): string {
  const compared = rows.filter((r) => r.pairwise.bradleyTerryWeighted !== null);
  if (compared.length === 0)
    return `<svg xmlns="http://www.w3.org/2000/svg" class="plot ranking" viewBox="0 0 ${width} 40" width="${width}" height="40" ${FONT}><text x="0" y="24" fill="currentColor">No ratings or pairwise choices to rank methods by.</text></svg>`;
  const left = 130;
  const rowH = 26;
  const height = compared.length * rowH + 40;
  const max = Math.max(1, ...compared.map((r) => Math.abs(r.pairwise.bradleyTerryWeighted!)));
  const plotW = width - left - 20;
  const x = (v: number) => left + plotW / 2 + (v / max) * (plotW / 2);
  const bars = compared
    .map((r, i) => {
      const y = 10 + i * rowH;
      const v = r.pairwise.bradleyTerryWeighted!;
      return `<g class="method" data-method="${escapeXml(r.method)}"><title>${escapeXml(`${r.method}: Bradley-Terry ${fmt(v)} (unweighted ${fmt(r.pairwise.bradleyTerry)}), win rate ${fmt(r.pairwise.winRate)} over ${r.pairwise.comparisons} choices`)}</title>
<text x="${left - 10}" y="${y + 14}" text-anchor="end" fill="currentColor">${escapeXml(r.method)}</text>
<rect x="${Math.min(x(0), x(v)).toFixed(1)}" y="${y + 3}" width="${Math.abs(x(v) - x(0)).toFixed(1)}" height="${rowH - 10}" fill="${colourOf(i)}"/></g>`;
    })
    .join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" class="plot ranking" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" ${FONT} role="img" aria-label="Bradley-Terry scores">
<line x1="${x(0)}" x2="${x(0)}" y1="4" y2="${height - 28}" stroke="currentColor" opacity="0.4"/>${bars}
<text x="${left}" y="${height - 8}" fill="currentColor" opacity="0.7">Bradley-Terry log-strength from pairwise choices (weighted); 0 = average</text>
</svg>`;
}

/** A heatmap with a diverging scale from `low` (red) through the middle (white) to `high` (blue); empty cells grey. */
export function heatmap(h: Heatmap, options: { cell?: number; selected?: string | null } = {}): string {
  const cell = options.cell ?? 34;
  const left = Math.min(170, 8 + 7 * Math.max(4, ...h.rows.map((r) => r.length)));
  const top = Math.min(120, 14 + 6 * Math.max(4, ...h.columns.map((c) => c.length)));
  const width = left + h.columns.length * cell + 70; // rotated column headers reach right
  const height = top + h.rows.length * cell + 10;
  const colour = (v: number | null) => {
    if (v === null) return '#d9d9d9';
    const mid = (h.low + h.high) / 2;
    const t = Math.max(-1, Math.min(1, (v - mid) / ((h.high - h.low) / 2)));
    const mix = (a: number, b: number, f: number) => Math.round(a + (b - a) * f);
    return t >= 0
      ? `rgb(${mix(255, 33, t)},${mix(255, 102, t)},${mix(255, 172, t)})`
      : `rgb(${mix(255, 214, -t)},${mix(255, 96, -t)},${mix(255, 77, -t)})`;
  };
  const headers = h.columns
    .map(
      (c, j) =>
        `<text transform="translate(${left + j * cell + cell / 2 + 4},${top - 6}) rotate(-45)" fill="currentColor">${escapeXml(shorten(c, 16))}</text>`,
    )
    .join('');
  const rowLabels = h.rows
    .map(
      (r, i) =>
        `<text x="${left - 6}" y="${top + i * cell + cell / 2 + 4}" text-anchor="end" fill="currentColor" ${options.selected === r ? 'font-weight="bold"' : ''}>${escapeXml(shorten(r, 22))}</text>`,
    )
    .join('');
  const cells = h.cells
    .map((c) => {
      const i = h.rows.indexOf(c.row);
      const j = h.columns.indexOf(c.column);
      const tip = `${c.row} × ${c.column}: ${c.value === null ? 'not defined' : fmt(c.value)} (n = ${c.n})`;
      const dark = c.value !== null && Math.abs(c.value - (h.low + h.high) / 2) > (h.high - h.low) * 0.3;
      return `<g class="cell" data-row="${escapeXml(c.row)}" data-column="${escapeXml(c.column)}" style="cursor:pointer"><title>${escapeXml(tip)}</title><rect x="${left + j * cell}" y="${top + i * cell}" width="${cell - 2}" height="${cell - 2}" fill="${colour(c.value)}"/><text x="${left + j * cell + cell / 2 - 1}" y="${top + i * cell + cell / 2 + 4}" text-anchor="middle" font-size="10" fill="${dark ? '#fff' : '#222'}">${c.value === null ? '' : c.value.toFixed(2)}</text></g>`;
    })
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" class="plot heatmap" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" ${FONT} role="img" aria-label="${escapeXml(h.title)}">
${headers}${rowLabels}${cells}
</svg>`;
}
