/**
 * What the generative explainers take and give: a bundle as a worker loads it, and the results of the decomposition, the counterfactual path, the components and the dataset index (plain data: they cross processes).
 */
import * as ort from 'onnxruntime-node';
import { BETAS } from '../../../src-shared/schemas/generative.ts';
import { type BranchRoles } from '../dxai/decompose.ts';
import { flipStep } from '../counterfactual/path.ts';
import { contributions } from '../infodisent/components.ts';

export type ExplainerRole = 'classifier' | 'dxai' | 'cae-encoder' | 'cae-decoder' | 'infodisent';

/** What a worker needs to know of a loaded bundle; plain data, so it crosses processes. */
export interface BundleRef {
  /** Changes whenever any model file of the bundle does. */
  key: string;
  dir: string;
  classes: string[];
  /** [channels, height, width] of the images. */
  shape: [number, number, number];
  preprocessing: {
    scale: number;
    mean: number[];
    std: number[];
    layout?: 'NCHW' | 'NHWC';
    channelOrder?: 'rgb' | 'bgr';
  };
  models: Partial<
    Record<
      ExplainerRole,
      { path: string; sha256: string; space: 'pixel' | 'normalised'; inputs: string[]; outputs: string[] }
    >
  >;
  branches?: BranchRoles;
  caePrototypes?: { codes: number[]; perClass: number; dim: number };
  /** The CAE individual code without the batch axis, as bundle.json declares it. */
  individualShape?: number[];
}

export type SessionFactory = (path: string) => Promise<ort.InferenceSession>;

export const CLASSIFY_BATCH = 512;

export interface DecompositionResult {
  target: number;
  predicted: number;
  branches: Float32Array;
  distinct: Float32Array;
  agnostic: Float32Array;
  reconstruction: Float32Array;
  error: { mae: number; max: number };
  /** Probabilities for image, distinct, agnostic, reconstruction, then each branch: (4 + B) x classes. */
  partProbabilities: Float32Array;
  /** Probabilities on image - beta x distinct, BETAS.length x classes. */
  betaProbabilities: Float32Array;
  betaAuc: number;
}

export interface CounterfactualTarget {
  /** Target class or -1 (the nearest other class by prototype). */
  target: number;
  steps: number;
  /** Pixel-space reference image to walk to instead of a prototype. */
  reference?: Float32Array;
}

export interface CounterfactualResult {
  predicted: number;
  target: number;
  via: 'prototype' | 'reference';
  original: Float32Array;
  images: Float32Array;
  codes: Float32Array;
  probabilities: Float32Array;
  predictions: number[];
  flipStep: number | null;
  difference: Float32Array;
}

export interface ComponentsResult {
  target: number;
  predicted: number;
  logits: Float32Array;
  evidence: Float32Array;
  maps: Float32Array;
  mapShape: [number, number];
  /** W[target, d] for every channel d. */
  weights: Float64Array;
  contributions: Float64Array;
  logit: number;
  bias: number;
}

export interface IndexResult {
  codes: Float32Array;
  codeDim: number;
  /** Per image and channel: max of ReLU(map) and the flat map position of it. */
  strongest: Float32Array;
  positions: Int32Array;
  channels: number;
  mapShape: [number, number];
}
