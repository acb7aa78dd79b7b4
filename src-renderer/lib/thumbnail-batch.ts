/** Reads the thumbnail batch format of src-main/datasets/read/image-bytes.ts (thumbnailBatch). */
export function parseThumbnailBatch(buffer: ArrayBuffer): Array<{ id: number; png: Uint8Array }> {
  const view = new DataView(buffer);
  const count = view.getUint32(0, true);
  let offset = 4 + 8 * count;
  const entries: Array<{ id: number; png: Uint8Array }> = [];
  for (let i = 0; i < count; i++) {
    const id = view.getUint32(4 + 8 * i, true);
    const length = view.getUint32(8 + 8 * i, true);
    if (length > 0) entries.push({ id, png: new Uint8Array(buffer, offset, length) });
    offset += length;
  }
  return entries;
}
