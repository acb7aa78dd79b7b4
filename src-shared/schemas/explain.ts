/** Explanations of the CAM family, layer-wise feature clusters and their quality metrics. */
import { z } from 'zod';
import { id } from './project.ts';

export const CAM_METHOD_NAMES = [
  'gradcam',
  'hirescam',
  'xgradcam',
  'gradcam++',
  'layercam',
  'scorecam',
  'ablationcam',
  'eigencam',
  'gradcam-elementwise',
  'finercam',
  'eigengradcam',
  'kpcacam',
  'fem',
  'randomcam',
  'saliency',
  'inputxgradient',
  'integratedgradients',
  'smoothgrad',
  'guidedbackprop',
  'guidedgradcam',
  'occlusion',
  'rise',
  'fullgrad',
  'attentionrollout',
  'gradientrollout',
] as const;
export const CamMethodName = z.enum(CAM_METHOD_NAMES);

/** The names people read. */
export const METHOD_LABELS: Record<(typeof CAM_METHOD_NAMES)[number], string> = {
  gradcam: 'Grad-CAM',
  hirescam: 'HiResCAM',
  xgradcam: 'XGrad-CAM',
  'gradcam++': 'Grad-CAM++',
  layercam: 'LayerCAM',
  scorecam: 'Score-CAM',
  ablationcam: 'Ablation-CAM',
  eigencam: 'Eigen-CAM',
  'gradcam-elementwise': 'Grad-CAM element-wise',
  finercam: 'FinerCAM',
  eigengradcam: 'EigenGrad-CAM',
  kpcacam: 'KPCA-CAM',
  fem: 'FEM',
  randomcam: 'Random-CAM (baseline)',
  saliency: 'Saliency',
  inputxgradient: 'Input × gradient',
  integratedgradients: 'Integrated gradients',
  smoothgrad: 'SmoothGrad',
  guidedbackprop: 'Guided backprop',
  guidedgradcam: 'Guided Grad-CAM',
  occlusion: 'Occlusion',
  rise: 'RISE',
  fullgrad: 'FullGrad',
  attentionrollout: 'Attention rollout',
  gradientrollout: 'Gradient rollout',
};

/** Methods whose maps are at input resolution; all but guided Grad-CAM ignore the layer. */
export const PIXEL_METHOD_NAMES: readonly (typeof CAM_METHOD_NAMES)[number][] = [
  'saliency',
  'inputxgradient',
  'integratedgradients',
  'smoothgrad',
  'guidedbackprop',
  'guidedgradcam',
  'occlusion',
  'rise',
  'fullgrad',
];
/** Methods that ignore eigen smoothing because they already project (or need no weights). */
const PROJECTING: readonly string[] = ['eigencam', 'eigengradcam', 'kpcacam', 'fem'];
/** Whether pytorch-grad-cam's smoothing option applies to a method (none always does). */
export const smoothingApplies = (method: (typeof CAM_METHOD_NAMES)[number], smoothing: Smoothing) =>
  smoothing === 'none' ||
  (!PIXEL_METHOD_NAMES.includes(method) &&
    !ROLLOUT_METHOD_NAMES.includes(method) &&
    (smoothing === 'aug' || !PROJECTING.includes(method)));

/** Vision-transformer methods over the attention probabilities of every block, at token resolution. */
export const ROLLOUT_METHOD_NAMES: readonly (typeof CAM_METHOD_NAMES)[number][] = [
  'attentionrollout',
  'gradientrollout',
];
/** The layer name under which the maps of layer-free methods are kept and shown. */
export const INPUT_LAYER = 'input';
/** The same for the rollouts, whose maps are at token resolution. */
export const ATTENTION_LAYER = 'attention';
/** The layer a method's map belongs to: the requested one, or the input / attention for layer-free methods. */
export const layerOfMethod = (method: (typeof CAM_METHOD_NAMES)[number], layer: string) =>
  ROLLOUT_METHOD_NAMES.includes(method)
    ? ATTENTION_LAYER
    : PIXEL_METHOD_NAMES.includes(method) && method !== 'guidedgradcam'
      ? INPUT_LAYER
      : layer;

/** pytorch-grad-cam's aug_smooth (mean over flips and scalings) and eigen_smooth (first principal component). */
export const SMOOTHINGS = ['none', 'aug', 'eigen'] as const;
export const Smoothing = z.enum(SMOOTHINGS);
export type Smoothing = z.infer<typeof Smoothing>;

export const LayerInfo = z.object({
  name: z.string(),
  shape: z.array(z.number().int()),
  op: z.string(),
  gradients: z.boolean(),
  note: z.string().optional(),
  /** A map held channels last (Swin) or as tokens (ViT: `skip` leading class tokens); absent: NCHW. */
  layout: z
    .union([z.object({ kind: z.literal('nhwc') }), z.object({ kind: z.literal('tokens'), skip: z.number().int() })])
    .optional(),
  /** Its spatial positions get no gradient from the class score (a ViT's last block): gradient maps are empty. */
  zeroGradient: z.boolean().optional(),
  /** The layer to start from: a CNN's last conv block, a ViT's norm before the last block. */
  recommended: z.boolean().optional(),
});

export const ExplainRequest = z.object({
  modelId: id,
  method: CamMethodName,
  layer: z.string().min(1),
  /** A class index, or -1 for the predicted class. */
  target: z.number().int().min(-1).default(-1),
  /** Absent: none. */
  smoothing: Smoothing.optional(),
});

/** Which map of which image: the method, layer and class it explains. */
const ExplainedImage = z.object({
  imageId: id,
  method: CamMethodName,
  layer: z.string(),
  target: z.number().int(),
  targetClass: z.string(),
  smoothing: Smoothing,
});

const LayerMap = ExplainedImage.extend({
  layerShape: z.tuple([z.number().int(), z.number().int()]),
  /** Row-major, layer resolution, after the method's ReLU, not scaled. */
  map: z.array(z.number()),
});

export const Explanation = LayerMap.extend({
  logits: z.array(z.number()),
  cached: z.boolean(),
});

export const FeatureCluster = z.object({
  /** Stable id: labels refer to a cluster by it. */
  id,
  index: z.number().int(),
  weight: z.number(),
  kept: z.boolean(),
  channels: z.array(z.number().int()),
  map: z.array(z.number()),
});

export const ClusteredLayer = z.object({
  layer: z.string(),
  shape: z.array(z.number().int()),
  thresholdPercent: z.number(),
  keptMaps: z.number().int(),
  k: z.number().int(),
  silhouette: z.number().nullable(),
  points: z.array(z.object({ channel: z.number().int(), x: z.number(), y: z.number(), cluster: z.number().int() })),
  clusters: z.array(FeatureCluster),
});

export const LayerwiseExplanation = z.object({
  runId: id,
  imageId: id,
  target: z.number().int(),
  targetClass: z.string(),
  layers: z.array(ClusteredLayer),
  cached: z.boolean(),
});

const MetricCurve = z.object({ x: z.array(z.number()), y: z.array(z.number()), auc: z.number() });

export const ImageMetrics = LayerMap.extend({
  steps: z.number().int(),
  /** Class probability while the most salient pixels turn black, step by step; lower area is better. */
  deletion: MetricCurve,
  /** Class probability while they appear on a black image; higher area is better. */
  insertion: MetricCurve,
  road: z.object({
    percentiles: z.array(z.number()),
    original: z.number(),
    morf: z.array(z.number()),
    lerf: z.array(z.number()),
    combined: z.number(),
  }),
});

export const SanityCheck = ExplainedImage.extend({
  steps: z.array(
    z.object({ layersRandomised: z.number().int(), layer: z.string(), op: z.string(), spearman: z.number() }),
  ),
});

export type LayerInfo = z.infer<typeof LayerInfo>;
export type Explanation = z.infer<typeof Explanation>;
export type CamMethodName = z.infer<typeof CamMethodName>;
export type LayerwiseExplanation = z.infer<typeof LayerwiseExplanation>;
export type ClusteredLayer = z.infer<typeof ClusteredLayer>;
export type ImageMetrics = z.infer<typeof ImageMetrics>;
export type SanityCheck = z.infer<typeof SanityCheck>;
