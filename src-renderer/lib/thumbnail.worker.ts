/** The grid's thumbnail decoding, off the main thread that scrolls the grid (see thumbnail-decoding.ts). */
import { decodeBatch, type DecodedBatch } from './thumbnail-decoding.ts';

const scope = self as unknown as Worker;

scope.onmessage = async (event: MessageEvent<{ job: number; buffer: ArrayBuffer }>) => {
  const bitmaps: DecodedBatch = await decodeBatch(event.data.buffer).catch(() => []);
  scope.postMessage(
    { job: event.data.job, bitmaps },
    bitmaps.map(([, bitmap]) => bitmap),
  );
};

scope.postMessage({ ready: true });
