/**
 * Concepts people named, tested on the model (TCAV, Kim et al. 2018): for each concept of the concept
 * atlas, concept activation vectors at a few layers from the regions people labelled with it, each
 * class's TCAV score against random regions, and whether it passes a two-sided t-test against the
 * random CAVs' scores.
 */
import { z } from 'zod';
import { id } from './project.ts';

export const TcavRequest = z.object({
  modelId: id,
  datasetId: id,
  /** The layers to test at; absent: up to three of the model's, the recommended one last. */
  layers: z.array(z.string().min(1).max(500)).min(1).max(8).optional(),
  /** Random sets (Kim et al.: at least 10). */
  runs: z.number().int().min(2).max(50).default(10),
  /** Labelled regions a concept, at most. */
  examples: z.number().int().min(3).max(500).default(40),
  /** Images of each class scored, at most. */
  classImages: z.number().int().min(2).max(2000).default(50),
  /** Concepts tested, the most labelled first. */
  concepts: z.number().int().min(1).max(100).default(10),
  sessionIds: z.array(id).optional(),
});
export type TcavRequest = z.input<typeof TcavRequest>;

export const TcavScore = z.object({
  classIndex: z.number().int(),
  className: z.string(),
  layer: z.string(),
  /** Mean TCAV score over the random runs, its standard deviation, and the null's mean. */
  mean: z.number(),
  std: z.number(),
  randomMean: z.number(),
  p: z.number(),
  significant: z.boolean(),
});
export type TcavScore = z.infer<typeof TcavScore>;

export const TestedConcept = z.object({
  concept: z.string(),
  name: z.string(),
  examples: z.number().int(),
  /** Mean accuracy of the linear classifiers per layer (concept against random regions). */
  accuracy: z.record(z.string(), z.number()),
  /** Every class at every layer. */
  scores: z.array(TcavScore),
  /** The classes people labelled it in, each at its best layer (the lowest p). */
  tested: z.array(TcavScore),
  /** Images whose activations lie most along the concept's CAV at its best layer. */
  aligned: z.array(z.object({ imageId: id, similarity: z.number() })),
});
export type TestedConcept = z.infer<typeof TestedConcept>;

export const TcavReport = z.object({
  modelId: id,
  datasetId: id,
  layers: z.array(z.string()),
  runs: z.number().int(),
  regionLayer: z.string(),
  concepts: z.array(TestedConcept),
  skipped: z.array(z.object({ name: z.string(), reason: z.string() })),
  seconds: z.number(),
});
export type TcavReport = z.infer<typeof TcavReport>;
