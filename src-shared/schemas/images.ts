/**
 * Which images of a dataset: the filters of the grid, shared by the grid's queries, the selection
 * jobs and labelling sessions, so that "the filtered images" means the same everywhere.
 */
import { z } from 'zod';
import { id } from './project.ts';

export const Correctness = z.enum(['all', 'correct', 'wrong']);
export type Correctness = z.infer<typeof Correctness>;

export const ImageFilter = z.object({
  datasetId: z.number().int().positive(),
  trueClass: z.string().optional(),
  predictedClass: z.string().optional(),
  correctness: Correctness.default('all'),
  confidenceMin: z.number().min(0).max(1).default(0),
  confidenceMax: z.number().min(0).max(1).default(1),
  split: z.string().optional(),
  /** Only these images (a selection on the dataset map). */
  imageIds: z.array(z.number().int().positive()).max(100_000).optional(),
});
export type ImageFilter = z.input<typeof ImageFilter>;

// The image grid, one image's detail, the confusion matrix.
export const ImageSort = z.enum(['id', 'class', 'confidence-asc', 'confidence-desc']);
export type ImageSort = z.infer<typeof ImageSort>;

export const ImageQuery = ImageFilter.extend({
  modelId: id.optional(),
  sort: ImageSort.default('id'),
  offset: z.number().int().min(0).default(0),
  limit: z.number().int().min(1).max(5000).default(500),
});

export const ImageRow = z.object({
  id,
  className: z.string().nullable(),
  predictedClass: z.string().nullable(),
  confidence: z.number().nullable(),
});

export const ImageDetail = z.object({
  id,
  datasetId: id,
  source: z.string(),
  className: z.string().nullable(),
  split: z.string().nullable(),
  width: z.number().int(),
  height: z.number().int(),
  channels: z.number().int(),
  contentHash: z.string(),
  byteSize: z.number().int(),
  prediction: z
    .object({
      modelId: id,
      predictedClass: z.string(),
      confidence: z.number(),
      probabilities: z.array(z.object({ className: z.string(), probability: z.number() })),
    })
    .nullable(),
});

export const Confusion = z.object({
  classes: z.array(z.string()),
  matrix: z.array(z.array(z.number().int())),
  total: z.number().int(),
  correct: z.number().int(),
  accuracy: z.number().nullable(),
});

export type ImageRow = z.infer<typeof ImageRow>;
export type ImageDetail = z.infer<typeof ImageDetail>;
export type ImageQuery = z.input<typeof ImageQuery>;
export type Confusion = z.infer<typeof Confusion>;
