import { deflateSync } from 'node:zlib';
import { PNG } from 'pngjs';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { thumbnailPixels, toRgba } from '../../src-main/datasets/read/thumbnail-pixels.ts';
import { thumbnailBatch } from '../../src-main/datasets/read/image-bytes.ts';
import { parseThumbnailBatch } from '../../src-renderer/lib/thumbnail-batch.ts';
import type { Project } from '../../src-main/store/project.ts';

/** Seeded pixels with smooth runs and sharp edges, so that every filter has work to do. */
function rgbaImage(width: number, height: number, seed: number): Buffer {
  const data = Buffer.alloc(width * height * 4);
  let state = seed;
  for (let i = 0; i < data.length; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    data[i] = (i % 7 === 0 ? state >>> 24 : (i * 3 + (i >> 8)) & 0xff) | 0;
  }
  return data;
}

/** What pngjs itself reads from the PNG, as RGBA. */
function reference(png: Buffer): { width: number; height: number; data: Buffer } {
  const image = PNG.sync.read(png);
  return { width: image.width, height: image.height, data: image.data };
}

function chunk(type: string, body: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(body.length);
  return Buffer.concat([length, Buffer.from(type, 'latin1'), body, Buffer.alloc(4)]);
}

/** A PNG put together by hand: an IHDR with the given fields and one IDAT of `idat` deflated. */
function handMade(width: number, height: number, colourType: number, idat: Buffer, depth = 8): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = depth;
  header[9] = colourType;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(idat)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

describe('thumbnail pixels', () => {
  it('reads every colour type and every row filter as pngjs does', () => {
    const source = rgbaImage(37, 23, 7);
    for (const colorType of [0, 2, 4, 6] as const) {
      for (const filterType of [-1, 0, 1, 2, 3, 4]) {
        const png = PNG.sync.write({ width: 37, height: 23, data: source } as PNG, {
          colorType,
          inputColorType: 6,
          inputHasAlpha: true,
          filterType,
        });
        const pixels = thumbnailPixels(png)!;
        expect(pixels, `colour type ${colorType}, filter ${filterType}`).not.toBeNull();
        expect(pixels.channels).toBe({ 0: 1, 4: 2, 2: 3, 6: 4 }[colorType]);
        const expected = reference(png);
        expect([pixels.width, pixels.height]).toEqual([expected.width, expected.height]);
        expect(
          Buffer.from(toRgba(pixels)).equals(expected.data),
          `colour type ${colorType}, filter ${filterType}`,
        ).toBe(true);
      }
    }
  });

  it("reads sharp's PNGs, and palette and 16-bit ones through pngjs", async () => {
    const raw = rgbaImage(64, 48, 3);
    const rgb = await sharp(raw, { raw: { width: 64, height: 48, channels: 4 } })
      .removeAlpha()
      .png()
      .toBuffer();
    const palette = await sharp(raw, { raw: { width: 64, height: 48, channels: 4 } })
      .png({ palette: true })
      .toBuffer();
    const deep = await sharp(raw, { raw: { width: 64, height: 48, channels: 4 } })
      .toColourspace('rgb16')
      .png()
      .toBuffer();
    for (const [name, png] of [
      ['sharp RGB', rgb],
      ['palette', palette],
      ['16-bit', deep],
    ] as const) {
      const pixels = thumbnailPixels(png);
      expect(pixels, name).not.toBeNull();
      expect(Buffer.from(toRgba(pixels!)).equals(reference(png).data), name).toBe(true);
    }
  });

  it('answers null for PNGs it must not trust, without reading past them', () => {
    const rows = (width: number, height: number, channels: number, filter = 0) =>
      Buffer.concat(
        Array.from({ length: height }, () => Buffer.concat([Buffer.from([filter]), Buffer.alloc(width * channels, 9)])),
      );
    const good = handMade(4, 3, 2, rows(4, 3, 3));
    expect(thumbnailPixels(good)?.data.length).toBe(36);
    // sides over the bound (checked before anything is inflated)
    expect(thumbnailPixels(handMade(100_000, 1, 2, rows(1, 1, 3)))).toBeNull();
    expect(thumbnailPixels(handMade(0, 3, 2, rows(4, 3, 3)))).toBeNull();
    // more data than the sides say (a small IDAT inflating to 64 MB), and less
    expect(thumbnailPixels(handMade(4, 3, 2, Buffer.alloc(64 * 1024 * 1024)))).toBeNull();
    expect(thumbnailPixels(handMade(4, 3, 2, rows(4, 2, 3)))).toBeNull();
    // a filter byte that does not exist
    expect(thumbnailPixels(handMade(4, 3, 2, rows(4, 3, 3, 7)))).toBeNull();
    // not a PNG, cut short, a chunk longer than the file, a colour type that does not exist
    expect(thumbnailPixels(Buffer.from('GIF89a this is not a png at all, honestly'))).toBeNull();
    expect(thumbnailPixels(good.subarray(0, 40))).toBeNull();
    const overlong = Buffer.from(good);
    overlong.writeUInt32BE(0x7fffffff, 33);
    expect(thumbnailPixels(overlong)).toBeNull();
    expect(thumbnailPixels(handMade(4, 3, 5, rows(4, 3, 3)))).toBeNull();
    expect(thumbnailPixels(new Uint8Array(0))).toBeNull();
  });

  it('sends a batch the renderer reads back, with unreadable thumbnails left out', () => {
    const colour = PNG.sync.write({ width: 5, height: 4, data: rgbaImage(5, 4, 1) } as PNG, { colorType: 2 });
    const grey = PNG.sync.write({ width: 3, height: 2, data: rgbaImage(3, 2, 2) } as PNG, { colorType: 0 });
    const stored = new Map<number, Buffer>([
      [7, colour],
      [8, Buffer.from('corrupt')],
      [9, grey],
    ]);
    const project = { images: { thumbnails: () => stored } } as unknown as Project;
    const body = thumbnailBatch(project, [9, 8, 10, 7]);
    const entries = parseThumbnailBatch(
      body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer,
    );
    expect(entries.map(({ id, width, height }) => [id, width, height])).toEqual([
      [9, 3, 2],
      [7, 5, 4],
    ]);
    expect(Buffer.from(entries[0]!.rgba).equals(reference(grey).data)).toBe(true);
    expect(Buffer.from(entries[1]!.rgba).equals(reference(colour).data)).toBe(true);
    // A response cut short loses only the entries it cuts.
    const cut = body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength - 1) as ArrayBuffer;
    expect(parseThumbnailBatch(cut).map((entry) => entry.id)).toEqual([9]);
  });
});
