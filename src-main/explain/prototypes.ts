/**
 * Prototype patches of InfoDisent channels: the patches of the project's images where a channel fires
 * most (from a dataset index, so a click opens the image), or else the bundle's own training-set atlas.
 * Patches follow the toolkit's rule: `patchSize` square around the strongest cell, clamped inside the image.
 */
import { MiB } from '../io/files.ts';
import { join } from 'node:path';
import type { Model } from '../../src-shared/contract.ts';
import type { Component, Prototype } from '../../src-shared/schemas/generative.ts';
import type { Project } from '../store/project.ts';
import type { ImageWorker } from '../runtime/context.ts';
import type { RawImage } from '../imaging/display.ts';
import { patchOrigin } from './infodisent/components.ts';
import type { ResolvedBundle } from './bundles.ts';

export const PROTOTYPES_PER_CHANNEL = 8;

/** What a dataset index stores per channel: its strongest images, best first. */
export interface PrototypeIndex {
  mapShape: [number, number];
  channels: { imageId: number; value: number; position: number }[][];
}

const atlases = new Map<string, RawImage>();

export function patchSize(bundle: ResolvedBundle): number {
  const [, h, w] = bundle.ref.shape;
  return bundle.loaded.infodisentPrototypes?.patchSize ?? Math.max(1, Math.floor(Math.min(h, w) / 2));
}

function crop(
  pixels: ArrayLike<number>,
  shape: [number, number, number],
  y: number,
  x: number,
  size: number,
  scale = 1,
): number[] {
  const [channels, h, w] = shape;
  const out: number[] = [];
  for (let c = 0; c < channels; c++)
    for (let r = 0; r < size; r++)
      for (let k = 0; k < size; k++) out.push(pixels[c * h * w + (y + r) * w + x + k]! / scale);
  return out;
}

/** Fills `prototypes` of the given channels; says where they came from. */
export async function attachPrototypes(
  project: Project,
  images: ImageWorker,
  bundle: ResolvedBundle,
  model: Model,
  channels: (Omit<Component, 'prototypes'> & { prototypes: Prototype[] })[],
): Promise<'project' | 'bundle'> {
  const index = project.datasets
    .list()
    .map((dataset) => project.generative.latestIndex<PrototypeIndex>(bundle.keys.prototypes, dataset.id, 'prototypes'))
    .filter((entry) => entry !== undefined)
    .sort((a, b) => b.createdAt.localeCompare(a.createdAt))[0];
  const shape = bundle.ref.shape;
  const size = patchSize(bundle);
  if (index) {
    const { mapShape } = index.payload;
    const pixelsOf = new Map<number, Promise<number[]>>();
    const load = (imageId: number) => {
      let pixels = pixelsOf.get(imageId);
      if (!pixels) {
        const stored = project.images.stored(imageId);
        pixels = stored
          ? images
              .call(
                'forModel',
                { image: stored, manifest: model.manifest },
                { subject: `reading image ${imageId} for a prototype` },
              )
              .then((values) => planar(values, shape))
          : Promise.resolve([]);
        pixelsOf.set(imageId, pixels);
      }
      return pixels;
    };
    for (const channel of channels) {
      const entries = index.payload.channels[channel.channel] ?? [];
      channel.prototypes = (
        await Promise.all(
          entries.map(async (entry) => {
            const pixels = await load(entry.imageId);
            if (pixels.length === 0) return null; // the image was removed since the index was built
            const { y, x } = patchOrigin(
              Math.floor(entry.position / mapShape[1]),
              entry.position % mapShape[1],
              mapShape,
              [shape[1], shape[2]],
              size,
            );
            const label = project.images.stored(entry.imageId)?.className ?? null;
            return {
              imageId: entry.imageId,
              trainIndex: null,
              label,
              value: entry.value,
              y,
              x,
              size,
              pixels: crop(pixels, shape, y, x, size, model.manifest.preprocessing.scale),
            };
          }),
        )
      ).filter((p) => p !== null);
    }
    return 'project';
  }
  const data = bundle.loaded.infodisentPrototypes;
  if (!data) return 'bundle';
  let atlas = atlases.get(bundle.loaded.dir);
  if (!atlas) {
    const path = join(bundle.loaded.dir, data.atlas);
    atlas = await images.call('raw', { path, maxBytes: 256 * MiB }, { subject: `reading the prototype atlas ${path}` });
    atlases.set(bundle.loaded.dir, atlas);
  }
  for (const channel of channels) {
    const entry = data.channels.find((c) => c.channel === channel.channel);
    // Patches in the bundle's channels, plane by plane (as `crop` gives a project image's): a grey atlas
    // for grey images, RGB for colour ones.
    const planes = Math.min(shape[0], atlas.channels);
    channel.prototypes = (entry?.patches ?? []).map((patch, j) => {
      const pixels: number[] = [];
      for (let c = 0; c < planes; c++)
        for (let r = 0; r < data.patchSize; r++) {
          for (let k = 0; k < data.patchSize; k++)
            pixels.push(
              atlas!.data[
                ((channel.channel * data.patchSize + r) * atlas!.width + j * data.patchSize + k) * atlas!.channels + c
              ]! / 255,
            );
        }
      return {
        imageId: null,
        trainIndex: patch.trainIndex,
        label: bundle.ref.classes[patch.label] ?? null,
        value: patch.value,
        y: patch.y,
        x: patch.x,
        size: data.patchSize,
        pixels,
      };
    });
  }
  return 'bundle';
}

/** Interleaved 8-bit pixels as channel planes. */
function planar(values: Uint8Array, [channels, h, w]: [number, number, number]): number[] {
  const out = new Array<number>(channels * h * w);
  for (let c = 0; c < channels; c++) for (let p = 0; p < h * w; p++) out[c * h * w + p] = values[p * channels + c]!;
  return out;
}

/** Keeps the `k` strongest images per channel while a dataset index walks the images. */
export class TopPerChannel {
  readonly channels: { imageId: number; value: number; position: number }[][];

  constructor(
    count: number,
    private readonly k = PROTOTYPES_PER_CHANNEL,
  ) {
    this.channels = Array.from({ length: count }, () => []);
  }

  add(imageIds: number[], strongest: Float32Array, positions: Int32Array): void {
    const count = this.channels.length;
    imageIds.forEach((imageId, i) => {
      for (let d = 0; d < count; d++) {
        const value = strongest[i * count + d]!;
        const list = this.channels[d]!;
        if (list.length === this.k && value <= list[list.length - 1]!.value) continue;
        list.push({ imageId, value, position: positions[i * count + d]! });
        list.sort((a, b) => b.value - a.value || a.imageId - b.imageId);
        if (list.length > this.k) list.pop();
      }
    });
  }
}
