/**
 * The generative explainers of one model bundle, run where onnxruntime may block (an inference
 * worker, a benchmark, a test): DXAI decompositions, CAE counterfactual paths, InfoDisent components,
 * and the per-image facts a dataset index needs (class codes, each channel's strongest evidence).
 * Inputs are pixel-space images (NCHW planes in [0, 1]); the engine normalises them for the models
 * that take the classifier's input (bundle.json "space"). Every method works on a batch at once.
 */
import * as ort from 'onnxruntime-node';
import { readFileSync } from 'node:fs';
import { BETAS } from '../../../src-shared/schemas/generative.ts';
import { ApiError } from '../../../src-shared/errors.ts';
import { betaImages, normalisedArea, splitBranches } from '../dxai/decompose.ts';
import {
  absoluteDifference,
  argmax,
  flipStep,
  interpolate,
  nearestPrototype,
  type PrototypeSet,
} from '../counterfactual/path.ts';
import { contributions, linearHead, type LinearHead } from '../infodisent/components.ts';
import { softmax } from '../../inference/runtime/tensor.ts';
import type {
  ExplainerRole,
  BundleRef,
  SessionFactory,
  DecompositionResult,
  CounterfactualTarget,
  CounterfactualResult,
  ComponentsResult,
  IndexResult,
} from './types.ts';

const CLASSIFY_BATCH = 512;

/**
 * The generative explainers of one model bundle, run where onnxruntime may block (an inference
 * worker, a benchmark, a test): DXAI decompositions, CAE counterfactual paths, InfoDisent components,
 * and the per-image facts a dataset index needs (class codes, each channel's strongest evidence).
 * Inputs are pixel-space images (NCHW planes in [0, 1]); the engine normalises them for the models
 * that take the classifier's input (bundle.json "space"). Every method works on a batch at once.
 */

export class GenerativeEngine {
  private readonly sessions = new Map<ExplainerRole, Promise<ort.InferenceSession>>();
  private head?: LinearHead;

  constructor(
    readonly bundle: BundleRef,
    private readonly createSession: SessionFactory,
  ) {}

  get size(): number {
    return this.bundle.shape[0] * this.bundle.shape[1] * this.bundle.shape[2];
  }

  get classCount(): number {
    return this.bundle.classes.length;
  }

  has(role: ExplainerRole): boolean {
    return this.bundle.models[role] !== undefined;
  }

  /** Softmax of the bundle classifier on pixel-space images, count x classes. */
  async classify(pixels: Float32Array, count: number): Promise<Float32Array> {
    const classes = this.classCount;
    const out = new Float32Array(count * classes);
    for (let start = 0; start < count; start += CLASSIFY_BATCH) {
      const n = Math.min(CLASSIFY_BATCH, count - start);
      const [logits] = await this.run('classifier', [
        this.input('classifier', pixels.subarray(start * this.size, (start + n) * this.size), n),
      ]);
      for (let i = 0; i < n; i++)
        softmax(logits!, i * classes, classes, out.subarray((start + i) * classes, (start + i + 1) * classes));
    }
    return out;
  }

  async decomposition(pixels: Float32Array, count: number, targets: number[]): Promise<DecompositionResult[]> {
    const branchRoles = this.bundle.branches;
    if (!branchRoles) throw this.missing('dxai');
    const { size, classCount: classes } = this;
    const original = await this.classify(pixels, count);
    const predicted = Array.from({ length: count }, (_, i) => argmax(original, i * classes, classes));
    const chosen = targets.map((target, i) => (target < 0 ? predicted[i]! : target));
    const classTensor = new ort.Tensor('int64', BigInt64Array.from(chosen.map(BigInt)), [count]);
    const [branches] = await this.run('dxai', [this.input('dxai', pixels, count), classTensor]);
    const branchCount = branchRoles.distinct.length + branchRoles.agnostic.length;
    const parts = Array.from({ length: count }, (_, i) => {
      const image = pixels.subarray(i * size, (i + 1) * size);
      return {
        image,
        ...splitBranches(
          image,
          branches!.subarray(i * branchCount * size, (i + 1) * branchCount * size),
          branchRoles,
          size,
        ),
      };
    });
    // One classifier run over every image to score: distinct, agnostic, reconstruction, branches, betas.
    const perImage = 3 + branchCount + BETAS.length;
    const batch = new Float32Array(count * perImage * size);
    parts.forEach((part, i) => {
      const base = i * perImage * size;
      batch.set(part.distinct, base);
      batch.set(part.agnostic, base + size);
      batch.set(part.reconstruction, base + 2 * size);
      batch.set(branches!.subarray(i * branchCount * size, (i + 1) * branchCount * size), base + 3 * size);
      batch.set(betaImages(part.image, part.distinct, BETAS), base + (3 + branchCount) * size);
    });
    const scored = await this.classify(batch, count * perImage);
    return parts.map((part, i) => {
      const row = (j: number) => scored.subarray((i * perImage + j) * classes, (i * perImage + j + 1) * classes);
      const partProbabilities = new Float32Array((4 + branchCount) * classes);
      partProbabilities.set(original.subarray(i * classes, (i + 1) * classes), 0);
      for (let j = 0; j < 3 + branchCount; j++) partProbabilities.set(row(j), (j + 1) * classes);
      const betaProbabilities = scored.slice((i * perImage + 3 + branchCount) * classes, (i + 1) * perImage * classes);
      const curve = BETAS.map((_, k) => betaProbabilities[k * classes + chosen[i]!]!);
      return {
        target: chosen[i]!,
        predicted: predicted[i]!,
        branches: branches!.slice(i * branchCount * size, (i + 1) * branchCount * size),
        distinct: part.distinct,
        agnostic: part.agnostic,
        reconstruction: part.reconstruction,
        error: part.error,
        partProbabilities,
        betaProbabilities,
        betaAuc: normalisedArea(BETAS, curve),
      };
    });
  }

  /** Class codes and individual codes of pixel-space images. */
  async encode(
    pixels: Float32Array,
    count: number,
  ): Promise<{ codes: Float32Array; individual: Float32Array; codeDim: number; individualSize: number }> {
    const [codes, individual] = await this.run('cae-encoder', [this.input('cae-encoder', pixels, count)]);
    return {
      codes: codes!,
      individual: individual!,
      codeDim: codes!.length / count,
      individualSize: individual!.length / count,
    };
  }

  async counterfactual(
    pixels: Float32Array,
    count: number,
    requests: CounterfactualTarget[],
  ): Promise<CounterfactualResult[]> {
    const { size, classCount: classes } = this;
    const prototypes = this.prototypeSet();
    const original = await this.classify(pixels, count);
    const { codes, individual, codeDim, individualSize } = await this.encode(pixels, count);
    const references = requests.map((request) => request.reference);
    const referenceCodes = new Map<number, Float32Array>();
    for (const [i, reference] of references.entries()) {
      if (reference) referenceCodes.set(i, (await this.encode(reference, 1)).codes);
    }
    const plans = requests.map((request, i) => {
      const predicted = argmax(original, i * classes, classes);
      const code = codes.subarray(i * codeDim, (i + 1) * codeDim);
      const reference = referenceCodes.get(i);
      if (reference) return { predicted, target: request.target, via: 'reference' as const, to: reference };
      if (!prototypes) throw this.missing('cae-prototypes');
      const allowed =
        request.target >= 0 ? (cls: number) => cls === request.target : (cls: number) => cls !== predicted;
      const nearest = nearestPrototype(code, prototypes, allowed);
      return { predicted, target: nearest.cls, via: 'prototype' as const, to: nearest.code };
    });
    // One decoder run and one classifier run for every step of every path.
    const stepCounts = requests.map((request) => request.steps + 1);
    const total = stepCounts.reduce((a, b) => a + b, 0);
    const stepCodes = new Float32Array(total * codeDim);
    const stepIndividual = new Float32Array(total * individualSize);
    let offset = 0;
    plans.forEach((plan, i) => {
      stepCodes.set(
        interpolate(codes.subarray(i * codeDim, (i + 1) * codeDim), plan.to, requests[i]!.steps),
        offset * codeDim,
      );
      for (let k = 0; k < stepCounts[i]!; k++)
        stepIndividual.set(
          individual.subarray(i * individualSize, (i + 1) * individualSize),
          (offset + k) * individualSize,
        );
      offset += stepCounts[i]!;
    });
    const decoder = this.bundle.models['cae-decoder']!;
    const feeds = decoder.inputs.map((name) =>
      name === 'class_code'
        ? new ort.Tensor('float32', stepCodes, [total, codeDim])
        : new ort.Tensor('float32', stepIndividual, [total, ...this.individualDims(individualSize)]),
    );
    const [decoded] = await this.run('cae-decoder', feeds);
    const probabilities = await this.classify(decoded!, total);
    offset = 0;
    return plans.map((plan, i) => {
      const steps = stepCounts[i]!;
      const predictions = Array.from({ length: steps }, (_, k) =>
        argmax(probabilities, (offset + k) * classes, classes),
      );
      const flip = flipStep(predictions, plan.predicted);
      const images = decoded!.slice(offset * size, (offset + steps) * size);
      const shown = flip ?? steps - 1;
      const result: CounterfactualResult = {
        predicted: plan.predicted,
        target: plan.target,
        via: plan.via,
        original: pixels.slice(i * size, (i + 1) * size),
        images,
        codes: stepCodes.slice(offset * codeDim, (offset + steps) * codeDim),
        probabilities: probabilities.slice(offset * classes, (offset + steps) * classes),
        predictions,
        flipStep: flip,
        difference: absoluteDifference(
          images.subarray(shown * size, (shown + 1) * size),
          pixels.subarray(i * size, (i + 1) * size),
        ),
      };
      offset += steps;
      return result;
    });
  }

  async components(pixels: Float32Array, count: number, targets: number[]): Promise<ComponentsResult[]> {
    const head = this.linearHead();
    const [logits, maps, evidence] = await this.run('infodisent', [this.input('infodisent', pixels, count)]);
    const classes = this.classCount;
    const channels = head.channels;
    const mapSize = maps!.length / (count * channels);
    const mapShape = this.mapShape(mapSize);
    return targets.map((requested, i) => {
      const predicted = argmax(logits!, i * classes, classes);
      const target = requested < 0 ? predicted : requested;
      const v = evidence!.subarray(i * channels, (i + 1) * channels);
      const sums = contributions(head, v, target);
      return {
        target,
        predicted,
        logits: logits!.slice(i * classes, (i + 1) * classes),
        evidence: v.slice(),
        maps: maps!.slice(i * channels * mapSize, (i + 1) * channels * mapSize),
        mapShape,
        weights: head.weight.slice(target * channels, (target + 1) * channels),
        contributions: sums.contributions,
        logit: sums.logit,
        bias: sums.bias,
      };
    });
  }

  /** What a dataset index keeps of each image: its class code (when there is a CAE) and each channel's peak (when there is an InfoDisent head). */
  async index(pixels: Float32Array, count: number): Promise<IndexResult> {
    let codes: Float32Array = new Float32Array(0);
    let codeDim = 0;
    if (this.has('cae-encoder')) ({ codes, codeDim } = await this.encode(pixels, count));
    let strongest = new Float32Array(0);
    let positions = new Int32Array(0);
    let channels = 0;
    let mapShape: [number, number] = [0, 0];
    if (this.has('infodisent')) {
      const [, maps] = await this.run('infodisent', [this.input('infodisent', pixels, count)]);
      channels = this.linearHead().channels;
      const mapSize = maps!.length / (count * channels);
      mapShape = this.mapShape(mapSize);
      strongest = new Float32Array(count * channels);
      positions = new Int32Array(count * channels);
      for (let j = 0; j < count * channels; j++) {
        let best = 0;
        let at = 0;
        for (let p = 0; p < mapSize; p++) {
          const value = maps![j * mapSize + p]!;
          if (value > best) [best, at] = [value, p];
        }
        strongest[j] = best;
        positions[j] = at;
      }
    }
    return { codes, codeDim, strongest, positions, channels, mapShape };
  }

  linearHead(): LinearHead {
    const model = this.bundle.models.infodisent;
    if (!model) throw this.missing('infodisent');
    this.head ??= linearHead(readFileSync(model.path), model.path, {
      evidence: model.outputs[2] ?? 'evidence',
      logits: model.outputs[0] ?? 'logits',
    });
    return this.head;
  }

  async release(): Promise<void> {
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(sessions.map(async (session) => (await session.catch(() => null))?.release()));
  }

  private prototypeSet(): PrototypeSet | undefined {
    const data = this.bundle.caePrototypes;
    if (!data) return undefined;
    return { codes: Float32Array.from(data.codes), classes: this.classCount, perClass: data.perClass, dim: data.dim };
  }

  private individualDims(size: number): number[] {
    return this.bundle.individualShape ?? [size];
  }

  private mapShape(size: number): [number, number] {
    const [, h, w] = this.bundle.shape;
    const side = Math.round(Math.sqrt((size * h) / w));
    return side > 0 && size % side === 0 ? [side, size / side] : [1, size];
  }

  /** The model's first input for pixel-space images, normalised when the model takes the classifier's input. */
  private input(role: ExplainerRole, pixels: Float32Array, count: number): ort.Tensor {
    const spec = this.bundle.models[role];
    if (!spec) throw this.missing(role);
    if (spec.space !== 'normalised') return new ort.Tensor('float32', pixels, [count, ...this.bundle.shape]);
    const [channels, h, w] = this.bundle.shape;
    const data = normalise(pixels, this.bundle);
    return this.bundle.preprocessing.layout === 'NHWC'
      ? new ort.Tensor('float32', toChannelsLast(data, count, channels, h * w), [count, h, w, channels])
      : new ort.Tensor('float32', data, [count, channels, h, w]);
  }

  private async run(role: ExplainerRole, inputs: ort.Tensor[]): Promise<Float32Array[]> {
    const spec = this.bundle.models[role];
    if (!spec) throw this.missing(role);
    let session = this.sessions.get(role);
    if (!session) {
      session = this.createSession(spec.path);
      session.catch(() => this.sessions.delete(role));
      this.sessions.set(role, session);
    }
    const ready = await session;
    const feeds = Object.fromEntries(spec.inputs.map((name, i) => [name, inputs[i]!]));
    const outputs = await ready.run(feeds);
    return spec.outputs.map((name) => {
      const tensor = outputs[name]!;
      const copy = new Float32Array(tensor.data as Float32Array);
      tensor.dispose?.();
      return copy;
    });
  }

  private missing(what: string): ApiError {
    return new ApiError(
      'explainer_missing',
      `The bundle in ${this.bundle.dir} has no ${what}; train it with \`npm run models\` or add it to bundle.json`,
    );
  }
}

/** NCHW planes to NHWC rows. */
function toChannelsLast(planes: Float32Array, count: number, channels: number, plane: number): Float32Array {
  const out = new Float32Array(planes.length);
  for (let i = 0; i < count; i++)
    for (let c = 0; c < channels; c++)
      for (let p = 0; p < plane; p++) out[(i * plane + p) * channels + c] = planes[(i * channels + c) * plane + p]!;
  return out;
}

/** Pixel-space RGB planes to the classifier's input values, in RGB or BGR channel order (still NCHW). */
export function normalise(pixels: Float32Array, bundle: Pick<BundleRef, 'shape' | 'preprocessing'>): Float32Array {
  const [channels, h, w] = bundle.shape;
  const plane = h * w;
  const { mean, std } = bundle.preprocessing;
  // Pixel space is the 8-bit value / 255; the model divides the 8-bit value by its scale (docs/MANIFEST.md).
  const toValue = 255 / (bundle.preprocessing.scale ?? 255);
  const out = new Float32Array(pixels.length);
  for (let base = 0; base < pixels.length; base += channels * plane) {
    for (let c = 0; c < channels; c++) {
      const m = mean[Math.min(c, mean.length - 1)]!;
      const s = std[Math.min(c, std.length - 1)]!;
      const from = bundle.preprocessing.channelOrder === 'bgr' ? channels - 1 - c : c;
      for (let p = 0; p < plane; p++) out[base + c * plane + p] = (pixels[base + from * plane + p]! * toValue - m) / s;
    }
  }
  return out;
}
