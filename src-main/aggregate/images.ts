/**
 * Example images of the atlas and the report: the image a label was given on, with the map people saw
 * over it (jet colours, opacity following the map), as a PNG data URI. Images and maps come from the
 * session's own snapshot, so an example still shows after the project's dataset changed.
 * The image worker draws them (imaging/overlays.ts).
 */
import type { ImageWorker } from '../runtime/context.ts';
import type { Project } from '../store/project.ts';

export const EXAMPLE_SIZE = 112;

/** The example of one labelled item as a data URI, or null when the session no longer holds it. */
export async function exampleImage(
  project: Project,
  images: ImageWorker,
  itemUuid: string,
  size = EXAMPLE_SIZE,
): Promise<string | null> {
  const item = project.labels.itemByUuid(itemUuid);
  if (!item) return null;
  const image = project.labels.imageBytes(item.sessionId, item.imageId);
  if (!image) return null;
  const png = await images.call(
    'overlay',
    { bytes: image.bytes, map: project.labels.itemMaps(item.id)[0], size },
    { subject: `drawing the example of image ${item.imageId}` },
  );
  return `data:image/png;base64,${Buffer.from(png).toString('base64')}`;
}
