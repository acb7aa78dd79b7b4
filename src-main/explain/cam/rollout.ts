/**
 * Attention rollout (Abnar and Zuidema 2020) and gradient-weighted rollout (Chefer et al. 2021,
 * "generic attention explainability") for vision transformers, from the attention probabilities in the
 * graph: every Softmax whose output is [N x heads, T, T] or [N, heads, T, T] with T = 1 + a square
 * (a class token and a square grid of patches). Per block, in graph order:
 * - rollout: A = mean over heads of the probabilities, plus I, rows normalised; R = A R;
 * - gradient rollout: A = mean over heads of ReLU(dy_c/dP * P); R = R + A R.
 * The map is the class token's row of R over the patch tokens, as a side x side grid.
 */
import { ApiError } from '../../../src-shared/errors.ts';
import { PROBE_BATCH } from '../../models/onnx/probe.ts';
import { throwIfCancelled } from './cancel.ts';
import type { AttentionSource, CamRequest, CamResult, RunHooks } from './types.ts';

export interface AttentionTensor {
  name: string;
  heads: number;
  tokens: number;
}

/** The attention probabilities of a transformer's blocks, in graph order; empty for other models. */
export function attentionTensors(engine: AttentionSource): AttentionTensor[] {
  const found: AttentionTensor[] = [];
  for (const node of engine.model.nodes) {
    if (node.opType !== 'Softmax') continue;
    const name = node.output?.[0];
    const shape = name ? engine.shapes.get(name) : undefined;
    if (!name || !shape) continue;
    const [tokens, columns] = shape.slice(-2) as [number, number];
    const side = Math.round(Math.sqrt(tokens - 1));
    if (tokens !== columns || side < 1 || side * side !== tokens - 1) continue;
    if (shape.length === 3 && shape[0]! % PROBE_BATCH === 0)
      found.push({ name, heads: shape[0]! / PROBE_BATCH, tokens });
    else if (shape.length === 4 && shape[0] === PROBE_BATCH) found.push({ name, heads: shape[1]!, tokens });
  }
  return found;
}

export async function rolloutMaps(
  engine: AttentionSource,
  data: Float32Array,
  count: number,
  request: CamRequest,
  hooks: RunHooks = {},
): Promise<CamResult[]> {
  const attentions = attentionTensors(engine);
  if (attentions.length === 0)
    throw new ApiError(
      'invalid_request',
      `${request.method === 'gradientrollout' ? 'Gradient' : 'Attention'} rollout needs a vision transformer with a class token: this model has no attention softmax over 1 + a square number of tokens`,
    );
  const names = attentions.map((a) => a.name);
  const run = await engine.gradientsOf('rollout', names, data, count, request.targets);
  const tokens = attentions[0]!.tokens;
  const side = Math.round(Math.sqrt(tokens - 1));
  const classes = engine.classes;
  return run.chosen.map((target, image) => {
    throwIfCancelled(hooks.signal);
    let rollout = identity(tokens);
    for (const attention of attentions) {
      if (attention.tokens !== tokens) continue; // a block over other tokens (a pooled stage) is not in the chain
      const size = attention.heads * tokens * tokens;
      const probabilities = run.values(attention.name).subarray(image * size, (image + 1) * size);
      const gradients =
        request.method === 'gradientrollout'
          ? run.gradients(attention.name).subarray(image * size, (image + 1) * size)
          : undefined;
      const mixed = headMean(probabilities, gradients, attention.heads, tokens);
      rollout =
        request.method === 'gradientrollout'
          ? add(rollout, multiply(mixed, rollout, tokens))
          : multiply(normalisedRows(add(mixed, identity(tokens)), tokens), rollout, tokens);
    }
    hooks.progress?.(image + 1, count);
    return {
      target,
      logits: run.logits.slice(image * classes, (image + 1) * classes),
      layerShape: [side, side] as [number, number],
      map: Float32Array.from({ length: tokens - 1 }, (_, p) => rollout[p + 1]!),
    };
  });
}

/** Mean over heads of P, or of ReLU(G * P) when gradients are given: [T, T]. */
function headMean(p: Float32Array, g: Float32Array | undefined, heads: number, tokens: number): Float64Array {
  const plane = tokens * tokens;
  const out = new Float64Array(plane);
  for (let h = 0; h < heads; h++)
    for (let i = 0; i < plane; i++) {
      const v = g ? g[h * plane + i]! * p[h * plane + i]! : p[h * plane + i]!;
      out[i]! += g ? Math.max(v, 0) : v;
    }
  for (let i = 0; i < plane; i++) out[i]! /= heads;
  return out;
}

function identity(n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) out[i * n + i] = 1;
  return out;
}

function add(a: Float64Array, b: Float64Array): Float64Array {
  return a.map((v, i) => v + b[i]!);
}

function normalisedRows(a: Float64Array, n: number): Float64Array {
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let j = 0; j < n; j++) sum += a[i * n + j]!;
    for (let j = 0; j < n; j++) a[i * n + j]! /= sum;
  }
  return a;
}

function multiply(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let k = 0; k < n; k++) {
      const v = a[i * n + k]!;
      if (v === 0) continue;
      for (let j = 0; j < n; j++) out[i * n + j]! += v * b[k * n + j]!;
    }
  return out;
}
