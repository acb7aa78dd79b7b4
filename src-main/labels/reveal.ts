/**
 * Deep Reveal's steps: the image with only the top REVEAL_PERCENTS[step] % of the map's pixels visible (the rest masked in main, so the full image never reaches the player before the first answer).
 */
import { ApiError } from '../../src-shared/errors.ts';
import { REVEAL_PERCENTS } from '../../src-shared/schemas/labels.ts';
import type { ImageWorker } from '../runtime/context.ts';
import type { Project } from '../store/project.ts';
import { type ItemRow, type SeatRow, type StoredMap } from '../store/labels.ts';
import { PRACTICE, practiceItems, ownTask, requireAnswering } from './tasks.ts';

/** The image with only the top REVEAL_PERCENTS[step] % of the map's pixels visible, as a PNG data URL. */
export async function reveal(
  project: Project,
  images: ImageWorker,
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
  const png = await images.call(
    'masked',
    { bytes: stored.bytes, map: project.labels.itemMaps(item.id)[0]!, percent: REVEAL_PERCENTS[step]! },
    { subject: `masking image ${item.imageId} for a Deep Reveal step` },
  );
  return { src: `data:image/png;base64,${Buffer.from(png).toString('base64')}`, step, percent: REVEAL_PERCENTS[step]! };
}
