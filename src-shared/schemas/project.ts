/** Projects, datasets and registered models as the contract describes them. */
import { z } from 'zod';

export const id = z.number().int().positive();

export const ProjectSummary = z.object({
  path: z.string(),
  /** Opened read-only: this user may not change the file (nothing can be saved). */
  readOnly: z.boolean(),
  name: z.string(),
  schemaVersion: z.number().int(),
  datasets: z.number().int(),
  images: z.number().int(),
  models: z.number().int(),
});

export const RecentProject = z.object({ path: z.string(), name: z.string(), openedAt: z.string() });

export const Dataset = z.object({
  id,
  name: z.string(),
  source: z.string(),
  kind: z.enum(['folder', 'idx', 'csv']),
  images: z.number().int(),
  issues: z.number().int(),
  classes: z.array(z.string()),
  splits: z.array(z.string()),
});

export const ImportIssue = z.object({
  source: z.string(),
  code: z.string(),
  message: z.string(),
});

export const LayerLayouts = z
  .object({
    tokens: z
      .object({
        skip: z.number().int().min(0).max(64),
        grid: z.tuple([z.number().int().positive().max(1024), z.number().int().positive().max(1024)]),
      })
      .strict()
      .optional(),
    channelsLast: z.boolean().optional(),
  })
  .strict();
export type LayerLayouts = z.infer<typeof LayerLayouts>;

export const Manifest = z.object({
  format: z.literal('xaiws.classifier/1'),
  name: z.string().min(1),
  description: z.string().optional(),
  file: z.string().min(1).optional(),
  input: z.object({
    name: z.string().min(1).optional(),
    layout: z.enum(['NCHW', 'NHWC']).default('NCHW'),
    channels: z.union([z.literal(1), z.literal(3)]),
    height: z.number().int().positive().max(4096),
    width: z.number().int().positive().max(4096),
  }),
  output: z.object({
    name: z.string().min(1).optional(),
    kind: z.enum(['logits', 'probabilities']).default('logits'),
  }),
  preprocessing: z
    .object({
      scale: z.number().positive().default(255),
      mean: z.array(z.number()).min(1).max(3).default([0]),
      std: z.array(z.number().positive()).min(1).max(3).default([1]),
      resize: z.enum(['stretch', 'contain', 'cover']).default('stretch'),
      /**
       * The share of the resized image the model sees, cut from its centre: torchvision's
       * Resize(256) + CenterCrop(224) is `"resize": "cover", "crop": 0.875`. 1 (default): no crop.
       */
      crop: z.number().gt(0).lte(1).default(1),
      /** The order of colour channels in the input: `rgb` (default) or `bgr` (Caffe-style Keras models). */
      channelOrder: z.enum(['rgb', 'bgr']).default('rgb'),
    })
    .default({ scale: 255, mean: [0], std: [1], resize: 'stretch', crop: 1, channelOrder: 'rgb' }),
  classes: z.array(z.string().min(1)).min(2),
  /**
   * How feature maps are laid out, where reading it from the shapes would be wrong: `tokens` for
   * [N, T, C] layers of `skip` leading tokens (class, distillation, register tokens) and a patch grid
   * of [height, width] (a ViT at a non-square size, DeiT); `channelsLast` true or false for every 4-D
   * layer. Absent: detected (a square grid after 0 or 1 tokens; [N, H, W, C] when H = W != C).
   */
  layers: LayerLayouts.optional(),
  training: z.record(z.string(), z.unknown()).optional(),
});
export type Manifest = z.infer<typeof Manifest>;

export const Model = z.object({
  id,
  name: z.string(),
  path: z.string(),
  fileHash: z.string(),
  manifest: Manifest,
  addedAt: z.string(),
});

export const BundleSummary = z.object({
  path: z.string(),
  name: z.string(),
  classes: z.array(z.string()),
  models: z.array(
    z.object({ role: z.string(), file: z.string(), sha256: z.string(), quality: z.record(z.string(), z.unknown()) }),
  ),
});

export type ProjectSummary = z.infer<typeof ProjectSummary>;
export type Dataset = z.infer<typeof Dataset>;
export type Model = z.infer<typeof Model>;
export type BundleSummary = z.infer<typeof BundleSummary>;
export type ImportIssue = z.infer<typeof ImportIssue>;
export type RecentProject = z.infer<typeof RecentProject>;
