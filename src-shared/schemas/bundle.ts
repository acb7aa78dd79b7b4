/**
 * Model bundles (docs/MANIFEST.md, "Bundles"): one folder per dataset and classifier holding the
 * classifier and the explainer models trained for it by `npm run models`, described by bundle.json.
 */
import { z } from 'zod';

export const BUNDLE_FORMAT = 'xaiws.bundle/1';

/** A fixed dimension, or a name for a dynamic one (the batch: "N"). */
const Dim = z.union([z.number().int().positive(), z.string().min(1)]);

export const TensorSpec = z.object({
  name: z.string().min(1),
  type: z.enum(['float32', 'int64']),
  shape: z.array(Dim).min(1),
});

export const BundleModel = z.object({
  file: z.string().min(1),
  space: z.enum(['pixel', 'normalised']),
  inputs: z.array(TensorSpec).min(1),
  outputs: z.array(TensorSpec).min(1),
  quality: z.record(z.string(), z.unknown()).default({}),
  training: z.record(z.string(), z.unknown()).optional(),
  branches: z
    .object({
      distinct: z.array(z.number().int().nonnegative()).min(1),
      agnostic: z.array(z.number().int().nonnegative()).min(1),
    })
    .optional(),
});

export const BUNDLE_ROLES = ['classifier', 'dxai', 'cae-encoder', 'cae-decoder', 'infodisent'] as const;
export type BundleRole = (typeof BUNDLE_ROLES)[number];

export const Bundle = z.object({
  format: z.string().regex(/^xaiws\.bundle\/\d+$/, 'expected "xaiws.bundle/<version>"'),
  name: z.string().min(1),
  dataset: z.object({
    name: z.string().min(1),
    channels: z.union([z.literal(1), z.literal(3)]),
    height: z.number().int().positive(),
    width: z.number().int().positive(),
  }),
  classes: z.array(z.string().min(1)).min(2),
  preprocessing: z.object({
    scale: z.number().positive(),
    mean: z.array(z.number()).min(1).max(3),
    std: z.array(z.number().positive()).min(1).max(3),
    resize: z.enum(['stretch', 'contain', 'cover']),
    /** The classifier's input layout and channel order (the models in "normalised" space take its input). */
    layout: z.enum(['NCHW', 'NHWC']).default('NCHW'),
    channelOrder: z.enum(['rgb', 'bgr']).default('rgb'),
  }),
  models: z.object({
    classifier: BundleModel,
    dxai: BundleModel.optional(),
    'cae-encoder': BundleModel.optional(),
    'cae-decoder': BundleModel.optional(),
    infodisent: BundleModel.optional(),
  }),
  data: z.record(z.string(), z.string().min(1)).default({}),
  files: z
    .array(
      z.object({
        path: z.string().min(1),
        sha256: z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex digits'),
        bytes: z.number().int().nonnegative(),
      }),
    )
    .min(1),
});
export type Bundle = z.infer<typeof Bundle>;
export type BundleModel = z.infer<typeof BundleModel>;
export type TensorSpec = z.infer<typeof TensorSpec>;

export const CaePrototypes = z.object({
  format: z.literal('xaiws.cae-prototypes/1'),
  codeDim: z.number().int().positive(),
  perClass: z.number().int().positive(),
  classes: z.array(z.object({ name: z.string(), prototypes: z.array(z.array(z.number())).min(1) })).min(2),
});
export type CaePrototypes = z.infer<typeof CaePrototypes>;

export const InfoDisentPrototypes = z.object({
  format: z.literal('xaiws.infodisent-prototypes/1'),
  k: z.number().int().positive(),
  patchSize: z.number().int().positive(),
  featureMap: z.tuple([z.number().int().positive(), z.number().int().positive()]),
  atlas: z.string().min(1),
  channels: z
    .array(
      z.object({
        channel: z.number().int().nonnegative(),
        patches: z.array(
          z.object({
            trainIndex: z.number().int().nonnegative(),
            label: z.number().int().nonnegative(),
            row: z.number().int(),
            col: z.number().int(),
            y: z.number().int(),
            x: z.number().int(),
            value: z.number(),
          }),
        ),
      }),
    )
    .min(1),
});
export type InfoDisentPrototypes = z.infer<typeof InfoDisentPrototypes>;
