/**
 * Results of the generative explainers of a model bundle (METHODS.md 1-3): DXAI decompositions, CAE
 * counterfactual paths and InfoDisent components. Images are pixel space ([0, 1], the 8-bit value / 255),
 * row-major, channel planes one after another; probabilities are the bundle classifier's softmax.
 */
import { z } from 'zod';

const id = z.number().int().positive();
const Numbers = z.array(z.number());
/** A class index, or -1: the class the classifier predicts. */
export const ClassChoice = z.number().int().min(-1).default(-1);

export const GENERATIVE_KINDS = ['decomposition', 'counterfactual', 'components'] as const;
export const GenerativeKind = z.enum(GENERATIVE_KINDS);
export type GenerativeKind = z.infer<typeof GenerativeKind>;

/** The beta sweep of the paper's global-beta curve: the classifier on image - beta x distinct. */
export const BETAS = Array.from({ length: 21 }, (_, i) => i / 20);

export const DecompositionPart = z.object({
  name: z.string(),
  /** 'distinct', 'agnostic', or one branch: 'branch 0' .. */
  role: z.enum(['image', 'distinct', 'agnostic', 'reconstruction', 'branch']),
  /** Branch index for role 'branch'. */
  branch: z.number().int().optional(),
  /** For a branch: whether it is one of the distinct or agnostic ones. */
  side: z.enum(['distinct', 'agnostic']).optional(),
  pixels: Numbers,
  min: z.number(),
  max: z.number(),
  probabilities: Numbers,
});

export const Decomposition = z.object({
  imageId: id,
  /** The class whose distinct part this is. */
  target: z.number().int(),
  targetClass: z.string(),
  predicted: z.number().int(),
  shape: z.tuple([z.number().int(), z.number().int(), z.number().int()]),
  classes: z.array(z.string()),
  /** image, distinct (the distinct branches), agnostic (image - distinct, so the two add up exactly), reconstruction, then every branch. */
  parts: z.array(DecompositionPart),
  /** The generator's sum against the image. */
  reconstructionError: z.object({ mae: z.number(), max: z.number() }),
  /** Probabilities of every class on image - beta x distinct. */
  beta: z.object({ betas: Numbers, probabilities: z.array(Numbers), auc: z.number() }),
  cached: z.boolean(),
});
export type Decomposition = z.infer<typeof Decomposition>;

export const CounterfactualRequest = z.object({
  modelId: id,
  imageId: id,
  /** Target class, or -1: the class whose prototype lies nearest to the image's class code (other than the predicted class). */
  target: ClassChoice,
  /** Walk to this image's class code instead of the target class's nearest prototype. */
  referenceImageId: id.optional(),
  steps: z.number().int().min(2).max(64).default(10),
});

export const Counterfactual = z.object({
  imageId: id,
  predicted: z.number().int(),
  target: z.number().int(),
  targetClass: z.string(),
  via: z.enum(['prototype', 'reference']),
  referenceImageId: id.nullable(),
  classes: z.array(z.string()),
  shape: z.tuple([z.number().int(), z.number().int(), z.number().int()]),
  original: Numbers,
  /** alpha_k = k / steps for k = 0..steps. */
  alphas: Numbers,
  /** The decoded image at each step. */
  images: z.array(Numbers),
  /** Class code at each step (for the class-code map). */
  codes: z.array(Numbers),
  probabilities: z.array(Numbers),
  predictions: z.array(z.number().int()),
  /** First step k >= 1 whose prediction differs from the original image's; null when none does. */
  flipStep: z.number().int().nullable(),
  flipClass: z.string().nullable(),
  /** |x_flip - x| per pixel (the last step's when nothing flips). */
  difference: Numbers,
  cached: z.boolean(),
});
export type Counterfactual = z.infer<typeof Counterfactual>;

export const Prototype = z.object({
  /** An image of this project (clickable) or, from the bundle's training-set atlas, null. */
  imageId: id.nullable(),
  trainIndex: z.number().int().nullable(),
  label: z.string().nullable(),
  value: z.number(),
  /** Patch origin and size in image pixels. */
  y: z.number().int(),
  x: z.number().int(),
  size: z.number().int(),
  /** The patch, pixel space. */
  pixels: Numbers,
});

export const Component = z.object({
  channel: z.number().int(),
  evidence: z.number(),
  weight: z.number(),
  /** weight x evidence: this channel's share of the class logit. */
  contribution: z.number(),
  map: Numbers,
  prototypes: z.array(Prototype),
});

export const Components = z.object({
  imageId: id,
  target: z.number().int(),
  targetClass: z.string(),
  /** The InfoDisent head's own prediction (it may differ from the classifier's). */
  predicted: z.number().int(),
  classes: z.array(z.string()),
  logits: Numbers,
  /** The target logit = sum of all contributions + bias. */
  logit: z.number(),
  bias: z.number(),
  mapShape: z.tuple([z.number().int(), z.number().int()]),
  /** Every channel, by |contribution|, largest first. */
  channels: z.array(Component),
  prototypeSource: z.enum(['project', 'bundle']),
  cached: z.boolean(),
});
export type Components = z.infer<typeof Components>;

export const Projection = z.enum(['pca', 'umap']);

export const ClassCodeMap = z.object({
  datasetId: id,
  projection: Projection,
  classes: z.array(z.string()),
  /** Point i: image, x, y, class index of its true label (-1 when unlabelled or unknown). */
  imageIds: z.array(z.number().int()),
  x: Numbers,
  y: Numbers,
  labels: z.array(z.number().int()),
  createdAt: z.string(),
});
export type ClassCodeMap = z.infer<typeof ClassCodeMap>;

export const OverlaySource = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('cam'), method: z.string(), layer: z.string(), target: z.number().int() }),
  z.object({ kind: GenerativeKind, params: z.string() }),
]);
export type OverlaySource = z.infer<typeof OverlaySource>;

export const OverlayChoice = z.object({ label: z.string(), count: z.number().int(), source: OverlaySource });
export const OverlayMap = z.object({ imageId: id, width: z.number().int(), height: z.number().int(), map: Numbers });

export type Prototype = z.infer<typeof Prototype>;
export type Component = z.infer<typeof Component>;
export type OverlayChoice = z.infer<typeof OverlayChoice>;
export type OverlayMap = z.infer<typeof OverlayMap>;
