/** Colour maps for heatmaps: t in [0, 1] -> [r, g, b] bytes, as 256-entry lookup tables. */
export const COLORMAPS = ['jet', 'viridis', 'inferno', 'grey'] as const;
export type Colormap = (typeof COLORMAPS)[number];

// Anchor colours at evenly spaced t, interpolated linearly (matplotlib's maps sampled at 9 points).
const ANCHORS: Record<Exclude<Colormap, 'jet' | 'grey'>, number[][]> = {
  viridis: [
    [68, 1, 84],
    [71, 44, 122],
    [59, 81, 139],
    [44, 113, 142],
    [33, 144, 141],
    [39, 173, 129],
    [92, 200, 99],
    [170, 220, 50],
    [253, 231, 37],
  ],
  inferno: [
    [0, 0, 4],
    [31, 12, 72],
    [85, 15, 109],
    [136, 34, 106],
    [186, 54, 85],
    [227, 89, 51],
    [249, 140, 10],
    [249, 201, 50],
    [252, 255, 164],
  ],
};

function jet(t: number): number[] {
  const channel = (offset: number) => Math.round(255 * Math.min(1, Math.max(0, 1.5 - Math.abs(4 * t - offset))));
  return [channel(3), channel(2), channel(1)];
}

const tables = new Map<Colormap, Uint8Array>();

export function colormapTable(name: Colormap): Uint8Array {
  let table = tables.get(name);
  if (table) return table;
  table = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const t = i / 255;
    let rgb: number[];
    if (name === 'jet') rgb = jet(t);
    else if (name === 'grey') rgb = [i, i, i];
    else {
      const anchors = ANCHORS[name];
      const position = t * (anchors.length - 1);
      const low = Math.floor(position);
      const high = Math.min(low + 1, anchors.length - 1);
      const f = position - low;
      rgb = anchors[low]!.map((v, c) => Math.round(v + (anchors[high]![c]! - v) * f));
    }
    table.set(rgb, i * 3);
  }
  tables.set(name, table);
  return table;
}

/** A map (row-major, any range) min-max scaled into RGBA pixels; alpha follows `opacity`. */
export function paintMap(map: ArrayLike<number>, name: Colormap, opacity: number, out: Uint8ClampedArray): void {
  let low = Infinity;
  let high = -Infinity;
  for (let i = 0; i < map.length; i++) {
    low = Math.min(low, map[i]!);
    high = Math.max(high, map[i]!);
  }
  const scale = high > low ? 255 / (high - low) : 0;
  const table = colormapTable(name);
  const alpha = Math.round(opacity * 255);
  for (let i = 0; i < map.length; i++) {
    const level = Math.round((map[i]! - low) * scale);
    out[i * 4] = table[level * 3]!;
    out[i * 4 + 1] = table[level * 3 + 1]!;
    out[i * 4 + 2] = table[level * 3 + 2]!;
    out[i * 4 + 3] = alpha;
  }
}
