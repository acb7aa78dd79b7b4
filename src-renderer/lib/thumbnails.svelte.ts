/**
 * Grid thumbnails, fetched in batches and decoded off the main thread. Rows ask for ids as they
 * render; the ids asked for within one task go out as one request (one per 500 ids), a worker makes
 * each PNG an ImageBitmap, and the rows that show it redraw their canvas. An <img> per thumbnail cost the
 * renderer's main thread about 0.3 ms each in request handling, which a scrolling grid cannot afford.
 * Bitmaps are kept for the most recent LIMIT ids; image ids belong to a project, so switching
 * projects clears them.
 */
import { SvelteMap } from 'svelte/reactivity';
import { api } from './api.ts';
import { decodeBatch, type DecodedBatch } from './thumbnail-decoding.ts';
import ThumbnailWorker from './thumbnail.worker.ts?worker';

const LIMIT = 4000;
const BATCH = 500;

export class Thumbnails {
  private readonly bitmaps = new SvelteMap<number, ImageBitmap>();
  private readonly wanted = new Set<number>();
  private readonly requested = new Set<number>();
  private scheduled = false;
  private generation = 0;

  get(id: number): ImageBitmap | undefined {
    return this.bitmaps.get(id);
  }

  want(id: number): void {
    if (this.bitmaps.has(id) || this.requested.has(id)) return;
    this.wanted.add(id);
    if (!this.scheduled) {
      this.scheduled = true;
      setTimeout(() => this.flush(), 0);
    }
  }

  clear(): void {
    this.generation += 1;
    for (const bitmap of this.bitmaps.values()) bitmap.close();
    this.bitmaps.clear();
    this.wanted.clear();
    this.requested.clear();
  }

  private flush(): void {
    this.scheduled = false;
    const ids = [...this.wanted];
    this.wanted.clear();
    for (let start = 0; start < ids.length; start += BATCH)
      void this.load(ids.slice(start, start + BATCH), this.generation);
  }

  private async load(ids: number[], generation: number): Promise<void> {
    for (const id of ids) this.requested.add(id);
    try {
      const response = await fetch(api.thumbnailBatchUrl(ids));
      if (!response.ok) return;
      const decoded = await decoder.decode(await response.arrayBuffer());
      if (generation !== this.generation) {
        for (const [, bitmap] of decoded) bitmap.close();
        return;
      }
      for (const [id, bitmap] of decoded) this.bitmaps.set(id, bitmap);
      this.evict();
    } catch {
      // A failed batch leaves its cells as placeholders; they ask again when they next render.
    } finally {
      for (const id of ids) this.requested.delete(id);
    }
  }

  private evict(): void {
    for (const [id, bitmap] of this.bitmaps) {
      if (this.bitmaps.size <= LIMIT) break;
      bitmap.close();
      this.bitmaps.delete(id);
    }
  }
}

/**
 * Decodes batches in a worker: a batch of a scrolling grid is a dozen PNGs every other frame, about 2 ms
 * of decoding each time. Until the worker says it is ready, and after it fails, the main thread decodes,
 * so that a worker that never starts (a policy that forbids it) costs speed, not thumbnails.
 */
class Decoder {
  private worker: Worker | null | undefined;
  private ready = false;
  private readonly jobs = new Map<number, (decoded: DecodedBatch) => void>();
  private next = 0;

  decode(buffer: ArrayBuffer): Promise<DecodedBatch> {
    const worker = this.start();
    if (!worker || !this.ready) return decodeBatch(buffer);
    const job = ++this.next;
    return new Promise((resolve) => {
      this.jobs.set(job, resolve);
      worker.postMessage({ job, buffer }, [buffer]);
    });
  }

  private start(): Worker | null {
    if (this.worker !== undefined) return this.worker;
    try {
      const worker = new ThumbnailWorker();
      worker.onmessage = ({ data }: MessageEvent<{ ready?: true; job: number; bitmaps: DecodedBatch }>) => {
        if (data.ready) this.ready = true;
        this.jobs.get(data.job)?.(data.bitmaps);
        this.jobs.delete(data.job);
      };
      worker.onerror = () => {
        // The batches it held ask again when their rows next render; later ones decode here.
        for (const resolve of this.jobs.values()) resolve([]);
        this.jobs.clear();
        this.worker = null;
        worker.terminate();
      };
      this.worker = worker;
    } catch {
      this.worker = null;
    }
    return this.worker;
  }
}

const decoder = new Decoder();

export const thumbnails = new Thumbnails();

/** Draws a bitmap whole and centred in the square at (x, y); small images are enlarged without smoothing. */
export function drawContained(
  context: CanvasRenderingContext2D,
  bitmap: ImageBitmap,
  x: number,
  y: number,
  size: number,
): { x: number; y: number; width: number; height: number } {
  const scale = Math.min(size / bitmap.width, size / bitmap.height);
  const width = bitmap.width * scale;
  const height = bitmap.height * scale;
  const rect = { x: x + (size - width) / 2, y: y + (size - height) / 2, width, height };
  context.imageSmoothingEnabled = scale < 1;
  context.drawImage(bitmap, rect.x, rect.y, width, height);
  return rect;
}
