/** Reads the thumbnail batch format of src-main/datasets/read/image-bytes.ts (thumbnailBatch). */
export interface BatchThumbnail {
  id: number;
  width: number;
  height: number;
  /** width x height x 4 bytes, a view into the response (for ImageData). */
  rgba: Uint8ClampedArray;
}

/** The thumbnails of a batch response; ids without one, and entries running past the end, are left out. */
export function parseThumbnailBatch(buffer: ArrayBuffer): BatchThumbnail[] {
  const view = new DataView(buffer);
  const count = view.getUint32(0, true);
  let offset = 4 + 8 * count;
  const entries: BatchThumbnail[] = [];
  for (let i = 0; i < count && offset <= buffer.byteLength; i++) {
    const id = view.getUint32(4 + 8 * i, true);
    const width = view.getUint16(8 + 8 * i, true);
    const height = view.getUint16(10 + 8 * i, true);
    const length = width * height * 4;
    if (length === 0) continue;
    if (offset + length > buffer.byteLength) break;
    entries.push({ id, width, height, rgba: new Uint8ClampedArray(buffer, offset, length) });
    offset += length;
  }
  return entries;
}
