/**
 * Image embeddings at a layer of a classifier, for the dataset map: one run of the model with the
 * layer as an extra output gives the scores and the layer. The default layer is the penultimate, the
 * input of the last dense layer before the scores (found by walking back from the output through
 * Softmax, Identity, bias Adds and the like). A feature map is averaged over its positions (channels
 * last and token layers first turned to planes), a vector is taken as it is.
 */
import type * as ort from 'onnxruntime-node';
import * as ortRuntime from 'onnxruntime-node';
import { ApiError } from '../../../src-shared/errors.ts';
import type { OnnxModel } from '../../models/onnx/model.ts';
import { toPlanes } from '../../models/gradient/layers.ts';
import { softmax64 } from '../cam/maps.ts';
import type { CamEngine } from '../cam/engine.ts';

const PASS_THROUGH = new Set(['Softmax', 'LogSoftmax', 'Identity', 'Dropout', 'Cast', 'Flatten', 'Reshape', 'Squeeze']);

/** The input of the model's last dense layer (Gemm, MatMul, or a 1x1 Conv on a 1x1 map), or null. */
export function penultimateLayer(model: OnnxModel, output: string): string | null {
  let name = output;
  for (let step = 0; step < 12; step++) {
    const node = model.producer(name);
    if (!node) return null;
    const inputs = (node.input ?? []).filter((i) => i !== '' && !model.constant(i));
    if (node.opType === 'Gemm' || node.opType === 'MatMul') return inputs[0] ?? null;
    if (
      PASS_THROUGH.has(node.opType ?? '') ||
      ((node.opType === 'Add' || node.opType === 'Mul') && inputs.length === 1)
    ) {
      if (!inputs[0]) return null;
      name = inputs[0];
      continue;
    }
    return null;
  }
  return null;
}

export interface EmbeddedBatch {
  embedding: Float32Array;
  dims: number;
  probabilities: Float32Array;
  classes: number;
}

export class LayerEmbedder {
  private session?: Promise<ort.InferenceSession>;

  private constructor(
    private readonly engine: CamEngine,
    readonly layer: string,
    readonly dims: number,
    private readonly pool: (values: Float32Array, count: number) => Float32Array,
  ) {}

  /** An embedder at `layer` (null: the penultimate); a named error when the layer cannot give one. */
  static for(engine: CamEngine, layer: string | null): LayerEmbedder {
    const name = layer ?? penultimateLayer(engine.model, engine.outputName);
    if (!name) {
      throw new ApiError(
        'layer_not_found',
        `This model's scores do not come from a dense layer, so it has no penultimate layer: name a layer for the map (one of ${engine
          .layers()
          .slice(-4)
          .map((l) => l.name)
          .join(', ')})`,
      );
    }
    const shape = engine.shapes.get(name);
    if (!shape) throw new ApiError('layer_not_found', `"${name}" is not a tensor of this model`);
    if (shape.length === 2) return new LayerEmbedder(engine, name, shape[1]!, (values) => values);
    const spatial = engine.layers().find((l) => l.name === name);
    if (!spatial)
      throw new ApiError(
        'layer_not_found',
        `"${name}" has shape [${shape.join(', ')}]: a map layer needs a vector [batch, features] or a feature map`,
      );
    const [channels, height, width] = spatial.shape as [number, number, number];
    const plane = height * width;
    return new LayerEmbedder(engine, name, channels, (values, count) => {
      const planes = toPlanes(values, spatial, count);
      const out = new Float32Array(count * channels);
      for (let i = 0; i < count * channels; i++) {
        let s = 0;
        for (let p = 0; p < plane; p++) s += planes[i * plane + p]!;
        out[i] = s / plane;
      }
      return out;
    });
  }

  async run(data: Float32Array, count: number): Promise<EmbeddedBatch> {
    const { engine } = this;
    this.session ??= Promise.resolve().then(() => {
      const model = engine.model.extended();
      model.setOutputs([engine.outputName, this.layer]);
      return engine.createSession(model.encode());
    });
    const session = await this.session;
    const outputs = await session.run({
      [engine.inputName]: new ortRuntime.Tensor('float32', data, [count, ...engine.input.dims]),
    });
    const scores = outputs[engine.outputName]!.data as Float32Array;
    const classes = scores.length / count;
    const probabilities = new Float32Array(scores.length);
    for (let i = 0; i < count; i++) {
      const row = scores.subarray(i * classes, (i + 1) * classes);
      probabilities.set(engine.outputKind === 'probabilities' ? row : softmax64(row), i * classes);
    }
    const embedding = this.pool(Float32Array.from(outputs[this.layer]!.data as Float32Array), count);
    return { embedding, dims: this.dims, probabilities, classes };
  }

  async release(): Promise<void> {
    await (await this.session?.catch(() => undefined))?.release();
  }
}
