/**
 * The dataset map (issue 19): every image of a dataset placed in 2-D by a model's embedding at one
 * layer (UMAP of the penultimate layer by default), with its nearest neighbours and per-image scores
 * after FiftyOne's Brain (mistakenness, hardness, uniqueness, near-duplicates). Columns, not rows: a
 * map of 70,000 images crosses as a few arrays.
 */
import { z } from 'zod';
import { id } from './project.ts';

export const MapRequest = z.object({
  modelId: id,
  datasetId: id,
  /** The layer to embed at; absent: the penultimate (the input of the last dense layer). */
  layer: z.string().min(1).max(500).optional(),
  /** Compute every image again instead of adding the new ones to the stored map. */
  rebuild: z.boolean().default(false),
});
export type MapRequest = z.input<typeof MapRequest>;

export const DatasetMap = z.object({
  datasetId: id,
  modelId: id,
  layer: z.string(),
  createdAt: z.string(),
  classes: z.array(z.string()),
  imageIds: z.array(z.number().int()),
  x: z.array(z.number()),
  y: z.array(z.number()),
  /** Index of each image's label among the model's classes, -1 without one. */
  label: z.array(z.number().int()),
  predicted: z.array(z.number().int()),
  confidence: z.array(z.number()),
  /** Entropy of the class probabilities over log(classes). */
  hardness: z.array(z.number()),
  /** Above 0.5 where the prediction disagrees with the label; null without a label. */
  mistakenness: z.array(z.number().nullable()),
  uniqueness: z.array(z.number()),
  /** The image id of each image's nearest near-duplicate, or null. */
  duplicate: z.array(z.number().int().nullable()),
  /** Whether a near-duplicate of it is in another split. */
  leak: z.array(z.boolean()),
  duplicatePairs: z.number().int(),
  /** Images of the dataset that are not on the map yet (added after it was made). */
  missing: z.number().int(),
});
export type DatasetMap = z.infer<typeof DatasetMap>;

export const SimilarRequest = z.object({
  modelId: id,
  imageId: id,
  count: z.number().int().min(1).max(100).default(15),
});

export const SimilarImages = z.object({
  imageId: id,
  layer: z.string(),
  neighbours: z.array(
    z.object({
      imageId: id,
      distance: z.number(),
      className: z.string().nullable(),
      predictedClass: z.string().nullable(),
      duplicate: z.boolean(),
    }),
  ),
});
export type SimilarImages = z.infer<typeof SimilarImages>;
