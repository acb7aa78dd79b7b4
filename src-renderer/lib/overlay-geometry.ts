/**
 * Where a map lies over its image. The image is shown whole ("contain") in a square box; the map covers
 * what the model saw, which depends on the manifest's resize mode: the whole image (stretch), the
 * centred crop of the model's aspect ratio (cover), or the image with its letterbox bars (contain).
 */
export type ResizeMode = 'stretch' | 'contain' | 'cover';

export interface Rect {
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * The map's rectangle inside a `box` x `box` square showing an `imageWidth` x `imageHeight` image;
 * `aspect` is the model input's width / height.
 */
export function mapRect(imageWidth: number, imageHeight: number, box: number, mode: ResizeMode, aspect: number): Rect {
  const scale = box / Math.max(imageWidth, imageHeight);
  let width = imageWidth;
  let height = imageHeight;
  if (mode === 'cover') {
    if (imageWidth / imageHeight > aspect) width = imageHeight * aspect;
    else height = imageWidth / aspect;
  } else if (mode === 'contain') {
    if (imageWidth / imageHeight > aspect) height = imageWidth / aspect;
    else width = imageHeight * aspect;
  }
  return {
    left: (box - width * scale) / 2,
    top: (box - height * scale) / 2,
    width: width * scale,
    height: height * scale,
  };
}
