/**
 * Advice for the layer picker: which layers' spatial positions get no gradient from the class score
 * (the zero-gradient trap of a ViT's last block: after its attention only the class token reaches the
 * head, so Grad-CAM there is empty), and which layer to start from.
 */
import { toPlanes, type LayerInfo } from '../../models/gradient/layers.ts';
import { deterministicInput } from '../../models/onnx/probe.ts';
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
 * Token and channels-last layers whose spatial gradients are all exactly zero for a fixed input (NCHW
 * feature maps of CNNs are not checked: they have no class token to bypass them). The trap lies in a
 * model's last block, past its last token mixing, where the layers that get no gradient (the queries,
 * everything after the attention) are interleaved with single ones that do (keys, values). So the
 * layers are checked from the deepest back, `chunk` at a time (each a short backward graph, released
 * after its run), until a chunk begins with LIVE_RUN layers that all get gradient: the block before.
 * One run towards all of a ViT-B's 256 token layers took 3 s to create and 2.5 GB; its last 32 hold
 * all 19 that get none.
 */
export async function zeroGradientLayers(engine: CamEngine, chunk = ADVICE_CHUNK): Promise<string[]> {
  const checked = engine.layers().filter((l) => l.gradients && l.layout);
  const input = deterministicInput(engine.input.dims);
  const zero: string[] = [];
  for (let end = checked.length; end > 0; end -= chunk) {
    const layers = checked.slice(Math.max(0, end - chunk), end);
    const key = `reach:${end}`;
    const run = await engine.gradientsOf(
      key,
      layers.map((l) => l.name),
      input,
      1,
      [-1],
    );
    const dead = layers.filter((layer) => toPlanes(run.gradients(layer.name), layer, 1).every((g) => g === 0));
    await engine.forget(key);
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
