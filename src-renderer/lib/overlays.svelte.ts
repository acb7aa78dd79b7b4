/**
 * Heat overlays for the grid: any cached map (a CAM variant, a DXAI distinct part, a CAE difference
 * map, InfoDisent evidence) drawn over the thumbnails. Rows ask for ids as they paint; ids asked for in
 * one task go out as one `overlays.maps` call; each map becomes a small canvas (its own resolution,
 * colour-mapped, min-max scaled per image) that the row draws scaled over the thumbnail. Images without
 * a cached map simply show no overlay.
 */
import { SvelteMap } from 'svelte/reactivity';
import type { OverlayChoice, OverlaySource } from '../../src-shared/schemas/generative.ts';
import { api } from './api.ts';
import { paintMap } from './colormaps.ts';

const BATCH = 500;

export class GridOverlays {
  choices = $state.raw<OverlayChoice[]>([]);
  source = $state.raw<OverlaySource | null>(null);
  private modelId: number | null = null;
  private readonly maps = new SvelteMap<number, HTMLCanvasElement | null>();
  private readonly wanted = new Set<number>();
  private scheduled = false;
  private generation = 0;

  get active(): boolean {
    return this.source !== null && this.modelId !== null;
  }

  async refreshChoices(modelId: number | null): Promise<void> {
    if (modelId !== this.modelId) this.select(modelId, null);
    this.choices = modelId === null ? [] : await api.call('overlays.choices', { modelId }).catch(() => []);
  }

  select(modelId: number | null, source: OverlaySource | null): void {
    this.modelId = modelId;
    this.source = source;
    this.generation += 1;
    this.maps.clear();
    this.wanted.clear();
  }

  /** The overlay canvas of an image: undefined while unknown (asks for it), null when it has no map. */
  get(id: number): HTMLCanvasElement | null | undefined {
    if (!this.active) return null;
    const map = this.maps.get(id);
    if (map === undefined) this.want(id);
    return map;
  }

  private want(id: number): void {
    this.wanted.add(id);
    if (this.scheduled) return;
    this.scheduled = true;
    setTimeout(() => void this.flush(), 0);
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    const ids = [...this.wanted];
    this.wanted.clear();
    const [generation, modelId, source] = [this.generation, this.modelId, this.source];
    if (modelId === null || source === null) return;
    for (let start = 0; start < ids.length; start += BATCH) {
      const batch = ids.slice(start, start + BATCH);
      for (const id of batch) this.maps.set(id, null); // asked once; a failed call leaves them plain
      try {
        const maps = await api.call('overlays.maps', { modelId, source, imageIds: batch });
        if (generation !== this.generation) return;
        for (const map of maps) this.maps.set(map.imageId, toCanvas(map.map, map.width, map.height));
      } catch {
        // No overlay is better than a broken grid.
      }
    }
  }
}

function toCanvas(map: number[], width: number, height: number): HTMLCanvasElement {
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const image = new ImageData(width, height);
  paintMap(map, 'jet', 1, image.data);
  canvas.getContext('2d')!.putImageData(image, 0, 0);
  return canvas;
}

export const gridOverlays = new GridOverlays();
