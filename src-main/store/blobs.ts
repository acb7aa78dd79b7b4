/** float32 arrays as SQLite blobs (little-endian, the platform order of every supported machine). */
export const toBlob = (values: Float32Array) => Buffer.from(values.buffer, values.byteOffset, values.byteLength);
export const fromBlob = (blob: Buffer) =>
  new Float32Array(blob.buffer.slice(blob.byteOffset, blob.byteOffset + blob.byteLength));
