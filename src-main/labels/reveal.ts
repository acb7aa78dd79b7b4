/**
 * Deep Reveal's steps: the image with only the top REVEAL_PERCENTS[step] % of the map's pixels visible (the rest masked in main, so the full image never reaches the player before the first answer).
 */
import sharp from 'sharp';
import { ApiError } from '../../src-shared/errors.ts';
import { REVEAL_PERCENTS } from '../../src-shared/schemas/labels.ts';
import type { Project } from '../store/project.ts';
import { type ItemRow, type SeatRow, type StoredMap } from '../store/labels.ts';
import { PRACTICE, practiceItems, ownTask, requireAnswering } from './tasks.ts';

/** The image with only the top REVEAL_PERCENTS[step] % of the map's pixels visible, as a PNG data URL. */
export async function reveal(
  project: Project,
  seat: SeatRow,
  taskId: string,
  step: number,
): Promise<{ src: string; step: number; percent: number }> {
  if (!Number.isInteger(step) || step < 0 || step >= REVEAL_PERCENTS.length)
    throw new ApiError('invalid_request', `Reveal step ${step} is not between 0 and ${REVEAL_PERCENTS.length - 1}`);
  requireAnswering(project, seat, 'reveal steps are');
  let item: ItemRow;
  if (taskId.startsWith(PRACTICE)) {
    const found = practiceItems(project, seat).find((p) => `${PRACTICE}${p.uuid}` === taskId);
    if (!found) throw new ApiError('task_not_found', `No practice task ${JSON.stringify(taskId.slice(0, 80))}`);
    item = found;
  } else {
    const task = ownTask(project, seat, taskId);
    item = project.labels.item(task.itemId)!;
    if (!project.answers.answer(task.id)) project.answers.setRevealed(task.id, step);
  }
  if (item.taskType !== 'reveal')
    throw new ApiError('invalid_request', `Task ${taskId} is a ${item.taskType} task, not a reveal game`);
  const stored = project.labels.imageBytes(seat.sessionId, item.imageId)!;
  const png = await maskedImage(stored.bytes, project.labels.itemMaps(item.id)[0]!, REVEAL_PERCENTS[step]!);
  return { src: `data:image/png;base64,${png.toString('base64')}`, step, percent: REVEAL_PERCENTS[step]! };
}

/** Keeps the pixels whose bilinearly upsampled map value is in the top `percent` %; the rest is grey. */
export async function maskedImage(bytes: Buffer, map: StoredMap, percent: number): Promise<Buffer> {
  const { data, info } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const keep = revealMask(map, info.width, info.height, percent);
  const out = Buffer.from(data);
  for (let p = 0; p < keep.length; p++)
    if (!keep[p]) for (let c = 0; c < info.channels; c++) out[p * info.channels + c] = 128;
  return sharp(out, { raw: { width: info.width, height: info.height, channels: info.channels } })
    .png()
    .toBuffer();
}

export function revealMask(map: StoredMap, width: number, height: number, percent: number): Uint8Array {
  const values = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    const sy = Math.min(Math.max(((y + 0.5) * map.height) / height - 0.5, 0), map.height - 1);
    const y0 = Math.floor(sy);
    const y1 = Math.min(y0 + 1, map.height - 1);
    const fy = sy - y0;
    for (let x = 0; x < width; x++) {
      const sx = Math.min(Math.max(((x + 0.5) * map.width) / width - 0.5, 0), map.width - 1);
      const x0 = Math.floor(sx);
      const x1 = Math.min(x0 + 1, map.width - 1);
      const fx = sx - x0;
      const m = map.map;
      const top = m[y0 * map.width + x0]! * (1 - fx) + m[y0 * map.width + x1]! * fx;
      const bottom = m[y1 * map.width + x0]! * (1 - fx) + m[y1 * map.width + x1]! * fx;
      values[y * width + x] = top * (1 - fy) + bottom * fy;
    }
  }
  const count = Math.max(1, Math.round((percent / 100) * values.length));
  const order = Array.from(values.keys()).sort((a, b) => values[b]! - values[a]! || a - b);
  const keep = new Uint8Array(values.length);
  for (let i = 0; i < count; i++) keep[order[i]!] = 1;
  return keep;
}
