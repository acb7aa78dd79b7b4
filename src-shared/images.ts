/**
 * Which images of a dataset: the filters of the grid, shared by the grid's queries, the selection
 * jobs and labelling sessions, so that "the filtered images" means the same everywhere.
 */
import { z } from 'zod';

export const Correctness = z.enum(['all', 'correct', 'wrong']);

export const ImageFilter = z.object({
  datasetId: z.number().int().positive(),
  trueClass: z.string().optional(),
  predictedClass: z.string().optional(),
  correctness: Correctness.default('all'),
  confidenceMin: z.number().min(0).max(1).default(0),
  confidenceMax: z.number().min(0).max(1).default(1),
  split: z.string().optional(),
});
export type ImageFilter = z.input<typeof ImageFilter>;
