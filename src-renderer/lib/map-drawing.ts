/**
 * Drawing the dataset map: point colours for each colouring, the view transform (pan and zoom), the
 * points splatted straight into an ImageData buffer (70,000 points in about a millisecond, where a
 * canvas call per point took 20), and the lasso's point-in-polygon test.
 */
import type { DatasetMap } from '../../src-shared/contract.ts';
import { classColour } from './class-colours.ts';
import { colormapTable } from './colormaps.ts';

export const MAP_COLOURINGS = [
  'class',
  'prediction',
  'correctness',
  'mistakenness',
  'hardness',
  'uniqueness',
  'duplicates',
] as const;
export type MapColouring = (typeof MAP_COLOURINGS)[number];

export const COLOURING_NAMES: Record<MapColouring, string> = {
  class: 'true class',
  prediction: 'prediction',
  correctness: 'right or wrong',
  mistakenness: 'mistakenness',
  hardness: 'hardness (entropy)',
  uniqueness: 'uniqueness',
  duplicates: 'near-duplicates and leaks',
};

/** 0xAABBGGRR: one ImageData pixel on a little-endian machine (every machine Electron runs on). */
export function packed(hex: string, alpha = 255): number {
  const v = Number.parseInt(hex.slice(1), 16);
  return ((alpha << 24) | ((v & 0xff) << 16) | (v & 0xff00) | ((v >> 16) & 0xff)) >>> 0;
}

const GREY = packed('#9a9a9a', 140);
const RIGHT = packed('#59a14f');
const WRONG = packed('#e15759');
const DUPLICATE = packed('#f28e2b');
const LEAK = packed('#b00020');

function ramp(values: (number | null)[]): Uint32Array {
  const table = colormapTable('viridis');
  return Uint32Array.from(values, (v) => {
    if (v === null || Number.isNaN(v)) return GREY;
    const i = Math.max(0, Math.min(255, Math.round(v * 255))) * 3;
    return ((255 << 24) | (table[i + 2]! << 16) | (table[i + 1]! << 8) | table[i]!) >>> 0;
  });
}

export function pointColours(map: DatasetMap, colouring: MapColouring): Uint32Array {
  const n = map.imageIds.length;
  const classes = map.classes.map((_, c) => packed(classColour(c)));
  switch (colouring) {
    case 'class':
      return Uint32Array.from(map.label, (l) => (l >= 0 ? classes[l]! : GREY));
    case 'prediction':
      return Uint32Array.from(map.predicted, (p) => classes[p] ?? GREY);
    case 'correctness':
      return Uint32Array.from({ length: n }, (_, i) =>
        map.label[i]! < 0 ? GREY : map.label[i] === map.predicted[i] ? RIGHT : WRONG,
      );
    case 'mistakenness':
      return ramp(map.mistakenness);
    case 'hardness':
      return ramp(map.hardness);
    case 'uniqueness':
      return ramp(map.uniqueness);
    case 'duplicates':
      return Uint32Array.from({ length: n }, (_, i) =>
        map.leak[i] ? LEAK : map.duplicate[i] !== null ? DUPLICATE : GREY,
      );
  }
}

/** Drawing order: points that stand out (high scores, duplicates) drawn last, on top. */
export function drawOrder(map: DatasetMap, colouring: MapColouring): Int32Array {
  const n = map.imageIds.length;
  const key: (i: number) => number =
    colouring === 'mistakenness'
      ? (i) => map.mistakenness[i] ?? -1
      : colouring === 'hardness'
        ? (i) => map.hardness[i]!
        : colouring === 'uniqueness'
          ? (i) => map.uniqueness[i]!
          : colouring === 'duplicates'
            ? (i) => (map.leak[i] ? 2 : map.duplicate[i] !== null ? 1 : 0)
            : colouring === 'correctness'
              ? (i) => (map.label[i]! >= 0 && map.label[i] !== map.predicted[i] ? 1 : 0)
              : () => 0;
  return Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => key(a) - key(b) || a - b);
}

export interface View {
  /** Data units to pixels. */
  scale: number;
  /** The pixel position of the data origin. */
  ox: number;
  oy: number;
}

/** The view that fits every point into a width x height canvas with a margin. */
export function fitView(map: Pick<DatasetMap, 'x' | 'y'>, width: number, height: number, margin = 16): View {
  let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
  for (let i = 0; i < map.x.length; i++) {
    x0 = Math.min(x0, map.x[i]!);
    x1 = Math.max(x1, map.x[i]!);
    y0 = Math.min(y0, map.y[i]!);
    y1 = Math.max(y1, map.y[i]!);
  }
  if (!Number.isFinite(x0)) return { scale: 1, ox: width / 2, oy: height / 2 };
  const scale = Math.min(
    (width - 2 * margin) / Math.max(1e-9, x1 - x0),
    (height - 2 * margin) / Math.max(1e-9, y1 - y0),
  );
  return { scale, ox: width / 2 - ((x0 + x1) / 2) * scale, oy: height / 2 + ((y0 + y1) / 2) * scale };
}

/** Screen position of data point (x, y): y grows upwards on the map. */
export const toScreen = (v: View, x: number, y: number): [number, number] => [v.ox + x * v.scale, v.oy - y * v.scale];

/** The view zoomed by `factor` about the screen point (px, py). */
export function zoomed(v: View, factor: number, px: number, py: number): View {
  return { scale: v.scale * factor, ox: px - (px - v.ox) * factor, oy: py - (py - v.oy) * factor };
}

/** Selections up to this size are ringed; a larger one would turn into a dark blot. */
export const RING_LIMIT = 400;

/** Splats every point as a `size` x `size` square into `pixels` (width x height); selected ones on top (ringed when few), the rest dimmed. */
export function splat(
  pixels: Uint32Array,
  width: number,
  height: number,
  map: Pick<DatasetMap, 'x' | 'y'>,
  view: View,
  colours: Uint32Array,
  order: Int32Array,
  size: number,
  selected: Uint8Array | null,
  background: number,
): void {
  pixels.fill(background);
  const ring = packed('#111111');
  const fill = (x0: number, y0: number, side: number, colour: number, translucent: boolean) => {
    for (let y = Math.max(0, y0); y < Math.min(height, y0 + side); y++)
      for (let x = Math.max(0, x0); x < Math.min(width, x0 + side); x++)
        pixels[y * width + x] = translucent ? blend(pixels[y * width + x]!, colour) : colour;
  };
  let count = 0;
  if (selected) for (const flag of selected) count += flag;
  const ringed = count <= RING_LIMIT;
  // With a selection, the others first (dimmed), then the selected ones on top.
  for (let pass = selected === null ? 1 : 0; pass < 2; pass++)
    for (let o = 0; o < order.length; o++) {
      const i = order[o]!;
      const chosen = selected === null || selected[i] === 1;
      if (chosen !== (pass === 1)) continue;
      const x0 = Math.round(view.ox + map.x[i]! * view.scale) - (size >> 1);
      const y0 = Math.round(view.oy - map.y[i]! * view.scale) - (size >> 1);
      if (x0 < -size - 1 || y0 < -size - 1 || x0 > width || y0 > height) continue;
      if (selected === null) fill(x0, y0, size, colours[i]!, false);
      else if (chosen) {
        if (ringed) fill(x0 - 1, y0 - 1, size + 2, ring, false);
        fill(x0, y0, size, colours[i]!, false);
      } else fill(x0, y0, size, ((colours[i]! & 0x00ffffff) | (0x40 << 24)) >>> 0, true);
    }
}

/** `top` (with its alpha) over an opaque `bottom`. */
function blend(bottom: number, top: number): number {
  const a = (top >>> 24) / 255;
  let out = 0xff000000;
  for (let shift = 0; shift < 24; shift += 8) {
    const c = ((bottom >>> shift) & 0xff) * (1 - a) + ((top >>> shift) & 0xff) * a;
    out |= Math.round(c) << shift;
  }
  return out >>> 0;
}

/** Rows whose screen positions fall inside the polygon (even-odd rule), after a bounding-box test. */
export function insidePolygon(map: Pick<DatasetMap, 'x' | 'y'>, view: View, polygon: [number, number][]): number[] {
  if (polygon.length < 3) return [];
  let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
  for (const [x, y] of polygon) [x0, x1, y0, y1] = [Math.min(x0, x), Math.max(x1, x), Math.min(y0, y), Math.max(y1, y)];
  const rows: number[] = [];
  for (let i = 0; i < map.x.length; i++) {
    const [px, py] = toScreen(view, map.x[i]!, map.y[i]!);
    if (px < x0 || px > x1 || py < y0 || py > y1) continue;
    let inside = false;
    for (let a = 0, b = polygon.length - 1; a < polygon.length; b = a++) {
      const [ax, ay] = polygon[a]!;
      const [bx, by] = polygon[b]!;
      if (ay > py !== by > py && px < ((bx - ax) * (py - ay)) / (by - ay) + ax) inside = !inside;
    }
    if (inside) rows.push(i);
  }
  return rows;
}

/** The row nearest the screen point within `radius` pixels, or -1. */
export function pointAt(map: Pick<DatasetMap, 'x' | 'y'>, view: View, px: number, py: number, radius = 6): number {
  let best = -1;
  let bestD = radius * radius;
  for (let i = 0; i < map.x.length; i++) {
    const [sx, sy] = toScreen(view, map.x[i]!, map.y[i]!);
    const d = (sx - px) ** 2 + (sy - py) ** 2;
    if (d <= bestD) [best, bestD] = [i, d];
  }
  return best;
}
