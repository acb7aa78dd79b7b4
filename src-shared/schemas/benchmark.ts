/**
 * Explanations checked against the truth (src-main/explain/benchmark.ts): a dataset whose images come
 * with ground-truth evidence masks (the colour benchmark's `benchmark.json`), the scores of every method
 * against them, and the demos the workstation ships.
 */
import { z } from 'zod';
import { CamMethodName } from './explain.ts';
import { id } from './project.ts';

/** The bundled demo projects: the Fashion-MNIST one, and the colour benchmark with known evidence. */
export const DemoName = z.enum(['fashion-mnist', 'colour-benchmark']);
export type DemoName = z.infer<typeof DemoName>;

/** Pointing game, relevance mass accuracy and relevance rank accuracy over some images (Quantus's definitions). */
export const LocalisationScores = z.object({
  images: z.number().int(),
  pointingGame: z.number(),
  /** Null when no image had positive relevance. */
  relevanceMass: z.number().nullable(),
  relevanceRank: z.number(),
});
export type LocalisationScores = z.infer<typeof LocalisationScores>;

/** How a method's maps treat the shortcut mark on the test images that carry it. */
export const ShortcutScores = z.object({
  markedImages: z.number().int(),
  /** Mean share of the map's positive relevance that lies on the mark. */
  meanMassOnMark: z.number(),
  /** Share of marked images whose map has its maximum on the mark. */
  pointsAtMark: z.number(),
  /** Marked images of another class that the model sent to the shortcut's class. */
  shortcutDecisions: z.number().int(),
  meanMassOnMarkInShortcutDecisions: z.number().nullable(),
});

export const MethodScores = LocalisationScores.extend({
  /** The layer a CAM ran at (pixel attributions: the input). */
  layer: z.string().optional(),
  perClass: z.record(z.string(), LocalisationScores),
  shortcut: ShortcutScores,
});
export type MethodScores = z.infer<typeof MethodScores>;

export const BenchmarkReport = z.object({
  model: z.string(),
  /** The truth file the masks came from. */
  truth: z.string(),
  /** The recommended layer the CAMs ran at. */
  layer: z.string(),
  images: z.number().int(),
  methods: z.record(z.string(), MethodScores),
  /** Methods this model could not run, with the reason. */
  skipped: z.record(z.string(), z.string()).default({}),
  /** DXAI's class-distinct part as a map; null without a DXAI bundle. */
  dxai: MethodScores.nullable(),
  /** The bundle's own quality figures per role (DXAI's global beta, CAE's flips, InfoDisent's cost). */
  bundleQuality: z.record(z.string(), z.record(z.string(), z.unknown())).nullable(),
});
export type BenchmarkReport = z.infer<typeof BenchmarkReport>;

export const BenchmarkRequest = z.object({
  modelId: id,
  /** The benchmark's description (benchmark.json); its masks must lie in its folder. */
  truth: z.string().min(1),
  methods: z.array(CamMethodName).min(1).max(40).optional(),
  /** Test images scored, spread evenly over the classes. */
  images: z.number().int().min(1).max(100_000).default(160),
});

/** A truth file found beside a dataset's source (a `benchmark.json` next to the imported CSV or folder). */
export const TruthFile = z.object({ datasetId: id, dataset: z.string(), path: z.string() });
export type TruthFile = z.infer<typeof TruthFile>;
