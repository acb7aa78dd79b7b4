/**
 * Strategy discovery (SpRAy, Lapuschkin et al. 2019): the explanation maps of one class's images,
 * clustered spectrally, each cluster a way the model decides for the class, ranked by how unusual it
 * is (how far its mean map lies from the class's, and how few images follow it).
 */
import { z } from 'zod';
import { CamMethodName } from './explain.ts';
import { id } from './project.ts';

export const StrategiesRequest = z.object({
  modelId: id,
  datasetId: id,
  classIndex: z.number().int().min(0),
  method: CamMethodName.default('gradcam'),
  /** The method's layer; absent: the model's recommended layer. */
  layer: z.string().min(1).max(500).optional(),
  /** At most this many of the class's images, in import order. */
  images: z.number().int().min(3).max(100_000).default(6000),
  /** Force this many clusters instead of the eigengap's choice. */
  clusters: z.number().int().min(1).max(20).optional(),
});
export type StrategiesRequest = z.input<typeof StrategiesRequest>;

/** Which strategies: the newest of a class, for one method or any. */
export const StrategiesQuery = z.object({
  modelId: id,
  datasetId: id,
  classIndex: z.number().int().min(0),
  method: CamMethodName.optional(),
});

export const StrategyCluster = z.object({
  /** Rank by unusualness, 0 the most unusual. */
  rank: z.number().int(),
  size: z.number().int(),
  share: z.number(),
  /** L1 distance of the cluster's mean map from the class's (maps sum to 1, so 0..2) times (1 - share). */
  unusualness: z.number(),
  /** Share of its images the model predicts as the class. */
  predictedAsClass: z.number(),
  /** Mean of its sum-normalised maps, [height x width] row-major. */
  meanMap: z.array(z.number()),
  /** Its images, the most typical first (nearest the cluster's mean map). */
  members: z.array(id),
});
export type StrategyCluster = z.infer<typeof StrategyCluster>;

export const StrategyReport = z.object({
  modelId: id,
  datasetId: id,
  classIndex: z.number().int(),
  className: z.string(),
  method: CamMethodName,
  layer: z.string(),
  images: z.number().int(),
  /** Whether the images are those labelled with the class (else those predicted as it). */
  labelled: z.boolean(),
  mapShape: z.tuple([z.number().int(), z.number().int()]),
  /** The smallest eigenvalues of the normalised Laplacian, ascending; the eigengap chooses k. */
  eigenvalues: z.array(z.number()),
  eigengap: z.number(),
  classMean: z.array(z.number()),
  clusters: z.array(StrategyCluster),
  seconds: z.number(),
});
export type StrategyReport = z.infer<typeof StrategyReport>;
