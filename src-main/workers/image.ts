/**
 * Image worker (one long-lived process, restarted after it dies): decodes and draws the images people
 * look at, so that libvips never runs on a file in the main process: a full image for the image panel
 * or a labelling session (from the imported file, which may have been replaced by anything since), a
 * Deep Reveal step, an example of the atlas and the report, an image at a model's input size (the
 * CLI's image files, InfoDisent's prototypes).
 */
import { displayable, rawImage } from '../imaging/display.ts';
import { maskedImage, overlayPng } from '../imaging/overlays.ts';
import { pixelsForModel } from '../inference/runtime/preprocess.ts';
import type { ImageProtocol } from './protocols.ts';
import { serve } from './serve.ts';

serve<ImageProtocol>({
  display: (source) => displayable(source),
  masked: ({ bytes, map, percent }) => maskedImage(bytes, map, percent),
  overlay: ({ bytes, map, size }) => overlayPng(bytes, map, size),
  raw: ({ path, maxBytes }) => rawImage(path, maxBytes),
  forModel: ({ image, manifest }) =>
    pixelsForModel({ ...image, pixels: image.pixels && Buffer.from(image.pixels) }, manifest),
});
