/**
 * Example images of the atlas and the report: the image a label was given on, with the map people saw
 * over it (jet colours, opacity following the map), as a PNG data URI. Images and maps come from the
 * session's own snapshot, so an example still shows after the project's dataset changed.
 */
import sharp from 'sharp';
import { resizeBilinearAligned } from '../../src-shared/saliency.ts';
import type { Project } from '../store/project.ts';

export const EXAMPLE_SIZE = 112;

function jet(t: number): [number, number, number] {
  const channel = (offset: number) => Math.round(255 * Math.min(1, Math.max(0, 1.5 - Math.abs(4 * t - offset))));
  return [channel(3), channel(2), channel(1)];
}

export async function overlayPng(
  bytes: Buffer,
  map: { width: number; height: number; map: Float32Array } | undefined,
  size = EXAMPLE_SIZE,
): Promise<Buffer> {
  const { data } = await sharp(bytes)
    .removeAlpha()
    .toColourspace('srgb')
    .resize(size, size, { fit: 'fill' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const rgb =
    data.length === size * size * 3
      ? data
      : Buffer.from(Array.from({ length: size * size * 3 }, (_, i) => data[Math.floor(i / 3)]!));
  if (map) {
    const scaled = resizeBilinearAligned(map.map, map.height, map.width, size, size);
    let low = Infinity;
    let high = -Infinity;
    for (const v of scaled) {
      low = Math.min(low, v);
      high = Math.max(high, v);
    }
    const range = high - low || 1;
    for (let p = 0; p < size * size; p++) {
      const t = (scaled[p]! - low) / range;
      const alpha = 0.6 * t;
      const colour = jet(t);
      for (let c = 0; c < 3; c++) rgb[p * 3 + c] = Math.round(rgb[p * 3 + c]! * (1 - alpha) + colour[c]! * alpha);
    }
  }
  return sharp(rgb, { raw: { width: size, height: size, channels: 3 } })
    .png()
    .toBuffer();
}

/** The example of one labelled item as a data URI, or null when the session no longer holds it. */
export async function exampleImage(project: Project, itemUuid: string, size = EXAMPLE_SIZE): Promise<string | null> {
  const item = project.labels.itemByUuid(itemUuid);
  if (!item) return null;
  const image = project.labels.imageBytes(item.sessionId, item.imageId);
  if (!image) return null;
  const png = await overlayPng(image.bytes, project.labels.itemMaps(item.id)[0], size);
  return `data:image/png;base64,${png.toString('base64')}`;
}
