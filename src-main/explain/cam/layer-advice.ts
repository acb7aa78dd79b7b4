/**
 * Advice for the layer picker: which layers' spatial positions get no gradient from the class score
 * (the zero-gradient trap of a ViT's last block: after its attention only the class token reaches the
 * head, so Grad-CAM there is empty), and which layer to start from.
 */
import * as ort from 'onnxruntime-node';
import { buildGradientModel, gradientOutputName, TARGET_INPUT } from '../../models/gradient/builder.ts';
import { tailFrom, toPlanes, type LayerInfo } from '../../models/gradient/layers.ts';
import { deterministicInput, PROBE_BATCH } from '../../models/onnx/probe.ts';
import { ApiError } from '../../../src-shared/errors.ts';
import type { CamEngine } from './engine.ts';

/** Where the names of a model's zero-gradient layers are kept between runs, beside its probe. */
export interface AdviceStore {
  read(): string[] | undefined;
  write(zeroGradient: string[]): void;
}

/** How many layers one gradient run of the advice checks. */
export const ADVICE_CHUNK = 32;
/** A chunk that begins with this many layers that get gradient ends the search. */
const LIVE_RUN = 8;

/**
 * The class score's gradients at `names` for one fixed input, through only the part of the model that
 * reads them: its inputs (those layers and whatever else it needs from before them, e.g. the residual
 * stream) are filled with fixed values, not computed. Which positions get any gradient at all is a
 * matter of the graph's structure (a class token gathered out of the tokens), not of the values, and a
 * ViT's last block holds a twelfth of its weights, which its session copies: a ViT-B's check took 2 s
 * to create through the whole model. Undefined where the model cannot be cut there.
 */
async function tailGradients(engine: CamEngine, names: string[]) {
  const facts = { shapes: engine.shapes, ...engine.probed };
  let encoded: Uint8Array;
  let inputs: string[];
  try {
    const tail = tailFrom(engine.model, names, facts, engine.outputName);
    const gradient = buildGradientModel(tail.model, engine.shapes, {
      targets: names,
      output: engine.outputName,
      ...engine.probed,
    });
    encoded = gradient.model.encode();
    inputs = tail.inputs;
  } catch (error) {
    if (error instanceof ApiError) return undefined; // e.g. a tensor the cut would need that is not float
    throw error;
  }
  const session = await engine.createSession(encoded, { prepack: false });
  try {
    const feeds: Record<string, ort.Tensor> = {
      [TARGET_INPUT]: new ort.Tensor('int64', BigInt64Array.from([-1n]), [1]),
    };
    for (const name of inputs) {
      // Shapes were measured at a batch of PROBE_BATCH; an axis that follows it may hold several per image.
      const batch = engine.probed.batchAxes.get(name);
      const dims = engine.shapes.get(name)!.map((d, axis) => (axis === batch ? d / PROBE_BATCH : d));
      feeds[name] = new ort.Tensor('float32', deterministicInput(dims), dims);
    }
    const outputs = await session.run(feeds);
    return (name: string) => outputs[gradientOutputName(name)]!.data as Float32Array;
  } finally {
    await session.release();
  }
}

/**
 * Token and channels-last layers whose spatial gradients are all exactly zero for a fixed input (NCHW
 * feature maps of CNNs are not checked: they have no class token to bypass them). The trap lies in a
 * model's last block, past its last token mixing, where the layers that get no gradient (the queries,
 * everything after the attention) are interleaved with single ones that do (keys, values). So the
 * layers are checked from the deepest back, `chunk` at a time (each a short backward graph through the
 * part of the model after them, released after its run), until a chunk begins with LIVE_RUN layers
 * that all get gradient: the block before. One run towards all of a ViT-B's 256 token layers took 3 s
 * to create and 2.5 GB; its last 32 hold all 19 that get none. `whole`: through the whole model from
 * a fixed image instead, as where the model cannot be cut.
 */
export async function zeroGradientLayers(engine: CamEngine, chunk = ADVICE_CHUNK, whole = false): Promise<string[]> {
  const checked = engine.layers().filter((l) => l.gradients && l.layout);
  const input = deterministicInput(engine.input.dims);
  const zero: string[] = [];
  for (let end = checked.length; end > 0; end -= chunk) {
    const layers = checked.slice(Math.max(0, end - chunk), end);
    const names = layers.map((l) => l.name);
    let gradients = whole ? undefined : await tailGradients(engine, names);
    if (!gradients) {
      const key = `reach:${end}`;
      gradients = (await engine.gradientsOf(key, names, input, 1, [-1])).gradients;
      await engine.forget(key);
    }
    const dead = layers.filter((layer) => toPlanes(gradients(layer.name), layer, 1).every((g) => g === 0));
    zero.unshift(...dead.map((l) => l.name));
    if (layers.slice(0, LIVE_RUN).every((layer) => !dead.includes(layer))) break;
  }
  return zero;
}

const NORM = /norm|(^|_)ln(_|\d|$)/i;

/**
 * The layer to start from: for token models, the last normalisation whose positions reach the class
 * score (a ViT's norm before its last block, as pytorch-grad-cam's tutorials choose); otherwise the
 * deepest feature map with gradients (a CNN's last conv block), else the deepest layer.
 */
export function recommendedLayer(layers: LayerInfo[]): LayerInfo | undefined {
  const usable = layers.filter((l) => l.gradients && !l.zeroGradient);
  const tokens = usable.filter((l) => l.layout?.kind === 'tokens');
  if (tokens.length > 0) {
    const norms = tokens.filter((l) => l.op === 'LayerNormalization' || NORM.test(l.name.split('/').at(-2) ?? ''));
    return (norms.at(-1) ?? tokens.at(-1))!;
  }
  return usable.at(-1) ?? layers.at(-1);
}

/** The model's layers with the advice: zero-gradient layers flagged and explained, one recommended. */
export async function adviseLayers(engine: CamEngine, store?: AdviceStore): Promise<LayerInfo[]> {
  let zero = store?.read();
  if (!zero) {
    zero = await zeroGradientLayers(engine);
    store?.write(zero);
  }
  const flagged = new Set(zero);
  const layers = engine.layers().map((layer): LayerInfo => {
    if (!flagged.has(layer.name)) return { ...layer };
    return {
      ...layer,
      zeroGradient: true,
      note: 'its positions get no gradient from the class score (past this point only the class token reaches the head), so gradient methods give empty maps here; the norm before the last block works',
    };
  });
  const recommended = recommendedLayer(layers);
  if (recommended) recommended.recommended = true;
  return layers;
}
