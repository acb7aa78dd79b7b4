/**
 * The CAM engine for one ONNX classifier: it measures the model's tensor shapes once, builds the models
 * each method needs (gradient graph per layer; head with the layer as an output and tail from the layer
 * on, for the gradient-free methods), keeps their sessions, and turns a batch of preprocessed images
 * into maps. It runs wherever onnxruntime may block: an inference worker, a CLI process, a test.
 */
import * as ort from 'onnxruntime-node';
import { ApiError } from '../../../src-shared/errors.ts';
import {
  buildGradientModel,
  gradientOutputName,
  SEED_INPUT,
  TARGET_INPUT,
  TARGET_OUTPUT,
} from '../../models/gradient/builder.ts';
import {
  biasLayers,
  candidateLayers,
  convBlockOutputs,
  tailFrom,
  toPlanes,
  type LayerInfo,
  type TailModel,
} from '../../models/gradient/layers.ts';
import { ablationCamWeights, scoreCamWeights } from './perturb.ts';
import { OnnxModel } from '../../models/onnx/model.ts';
import type { LayerLayouts } from '../../../src-shared/schemas/project.ts';
import { probeShapes, type ProbeResult, type ShapeTable } from '../../models/onnx/probe.ts';
import { argmax } from '../counterfactual/path.ts';
import {
  eigenMap,
  femMap,
  finerSeed,
  GRADIENT_METHODS,
  gradientMap,
  kpcaMap,
  PIXEL_METHODS,
  smoothingApplies,
  softmax64,
  weightedSum,
  type FeatureMaps,
} from './maps.ts';
import { pixelMaps } from './pixels.ts';
import { augmentedMaps } from './smoothing.ts';
import { rolloutMaps } from './rollout.ts';
import { ROLLOUT_METHOD_NAMES } from '../../../src-shared/contract.ts';
import { throwIfCancelled } from './cancel.ts';
import { SessionCache } from './sessions.ts';
import type {
  CamRequest,
  CamResult,
  InputGradients,
  InputSpec,
  PixelSource,
  EngineOptions,
  ProbeStore,
  RunHooks,
  SessionFactory,
} from './types.ts';

export type { CamRequest, CamResult, InputSpec, ProbeStore, RunHooks, SessionFactory };

export class CamEngine implements PixelSource {
  private readonly sessions: SessionCache;
  private readonly tails = new Map<string, TailModel>();
  private layerList?: LayerInfo[];

  private constructor(
    readonly model: OnnxModel,
    readonly input: InputSpec,
    readonly shapes: ShapeTable,
    /** The probe's element types, batch axes and static integer values, for the graph tools. */
    readonly probed: Pick<ProbeResult, 'types' | 'batchAxes' | 'values'>,
    readonly createSession: SessionFactory,
    readonly inputName: string,
    readonly outputName: string,
    /** Whether the output holds logits (class scores for metrics go through a softmax) or probabilities. */
    readonly outputKind: 'logits' | 'probabilities',
    /** The manifest's layer layouts, where the shapes would be read wrongly. */
    private readonly layouts?: LayerLayouts,
  ) {
    this.sessions = new SessionCache(createSession);
  }

  static async create(
    bytes: Uint8Array,
    input: InputSpec,
    createSession: SessionFactory,
    names: EngineOptions = {},
  ): Promise<CamEngine> {
    const model = OnnxModel.read(bytes);
    let probe = names.probes?.read();
    if (!probe) {
      probe = await probeShapes(model, input.dims, { threads: names.threads ?? 2 });
      names.probes?.write(probe);
    }
    const { shapes, types, batchAxes, values } = probe;
    return new CamEngine(
      model,
      input,
      shapes,
      { types, batchAxes, values },
      createSession,
      names.input ?? model.inputNames()[0]!,
      names.output ?? model.outputNames()[0]!,
      names.outputKind ?? 'logits',
      names.layouts,
    );
  }

  /**
   * An engine for a copy of this model with other weights but the same graph (the sanity check's
   * re-initialised models): same input, names and session factory, and the same measured shapes.
   */
  derive(model: OnnxModel): CamEngine {
    return new CamEngine(
      model,
      this.input,
      this.shapes,
      this.probed,
      this.createSession,
      this.inputName,
      this.outputName,
      this.outputKind,
      this.layouts,
    );
  }

  /** The probability of class `target` for each of `count` inputs. */
  async classProbabilities(batch: Float32Array, count: number, target: number): Promise<Float64Array> {
    const session = await this.forwardSession();
    const outputs = await session.run({ [this.inputName]: this.inputTensor(batch, count) });
    const values = outputs[this.outputName]!.data as Float32Array;
    const classes = values.length / count;
    return Float64Array.from({ length: count }, (_, i) => {
      const row = values.subarray(i * classes, (i + 1) * classes);
      return this.outputKind === 'probabilities' ? row[target]! : softmax64(row)[target]!;
    });
  }

  layers(): LayerInfo[] {
    this.layerList ??= candidateLayers(
      this.model,
      this.shapes,
      this.probed.types,
      this.outputName,
      this.probed.batchAxes,
      this.layouts,
    );
    return this.layerList;
  }

  layer(name: string): LayerInfo {
    const layer = this.layers().find((l) => l.name === name);
    if (!layer) {
      const names = this.layers().map((l) => l.name);
      throw new ApiError(
        'layer_not_found',
        `"${name}" is not a feature map of this model; candidates: ${names.slice(0, 12).join(', ')}${names.length > 12 ? ', …' : ''}`,
      );
    }
    return layer;
  }

  /** Releases the session of a graph built under `key` (a one-off one: the layer advice's). */
  forget(key: string): Promise<void> {
    return this.sessions.forget(key);
  }

  private forwardSession() {
    return this.sessions.get('forward', () => this.model);
  }

  /** Starts building `layer`'s Grad-CAM graph and session, which the next explain at it will want. */
  prepare(layer: string): void {
    this.gradientGraph(`gradient:${layer}`, [layer]).catch(() => undefined);
  }

  /** A gradient graph towards `targets`, built once per key (unpacked); `seeded` takes d L / d scores as an input. */
  private gradientGraph(key: string, targets: string[], options: { guided?: boolean; seeded?: boolean } = {}) {
    return this.sessions.get(
      key,
      () =>
        buildGradientModel(this.model, this.shapes, {
          targets,
          output: this.outputName,
          guidedRelu: options.guided,
          seedInput: options.seeded,
          ...this.probed,
        }).model,
      { prepack: false },
    );
  }

  private headSession(layer: string) {
    return this.sessions.get(`head:${layer}`, () => {
      const head = this.model.extended();
      head.setOutputs([this.outputName, layer, ...this.frontier(layer)]);
      return head;
    });
  }

  /** The model after `layer`, cut once per layer (the head needs its frontier, Ablation-CAM its graph). */
  private tail(layer: string): TailModel {
    if (!this.tails.has(layer))
      this.tails.set(layer, tailFrom(this.model, layer, { shapes: this.shapes, ...this.probed }, this.outputName));
    return this.tails.get(layer)!;
  }

  private frontier(layer: string): string[] {
    return this.tail(layer).frontier;
  }

  private tailSession(layer: string) {
    return this.sessions.get(`tail:${layer}`, () => this.tail(layer).model);
  }

  private inputTensor(data: Float32Array, count: number) {
    return new ort.Tensor('float32', data, [count, ...this.input.dims]);
  }

  /** The class count of the score output. */
  get classes(): number {
    return this.shapes.get(this.outputName)![1]!;
  }

  async explain(data: Float32Array, count: number, request: CamRequest, hooks: RunHooks = {}): Promise<CamResult[]> {
    if (request.targets.length !== count)
      throw new ApiError('invalid_request', `${request.targets.length} targets for ${count} images`);
    for (const target of request.targets) {
      if (!Number.isInteger(target) || target < -1 || target >= this.classes)
        throw new ApiError('invalid_request', `Target class ${target} is not in 0..${this.classes - 1}`);
    }
    const smoothing = request.smoothing ?? 'none';
    if (!smoothingApplies(request.method, smoothing))
      throw new ApiError(
        'invalid_request',
        `${request.method} has no ${smoothing} smoothing (it applies to the CAM family${smoothing === 'eigen' ? ' except Eigen-CAM, EigenGrad-CAM, KPCA-CAM and FEM' : ''})`,
      );
    if (PIXEL_METHODS.has(request.method)) return pixelMaps(this, data, count, request, hooks);
    if (ROLLOUT_METHOD_NAMES.includes(request.method)) return rolloutMaps(this, data, count, request, hooks);
    if (smoothing === 'aug') return augmentedMaps(this, data, count, request, hooks);
    return this.layerMaps(data, count, request, hooks);
  }

  /** The scores of `count` inputs. */
  async logits(data: Float32Array, count: number): Promise<Float32Array> {
    const session = await this.forwardSession();
    const outputs = await session.run({ [this.inputName]: this.inputTensor(data, count) });
    return outputs[this.outputName]!.data as Float32Array;
  }

  /**
   * One run of the gradient graph towards `names` (built once per `key`; guided: through guided-backprop
   * ReLUs): the class each image's gradient was taken for, the scores, and each tensor's values and
   * gradients.
   */
  async gradientsOf(
    key: string,
    names: string[],
    data: Float32Array,
    count: number,
    targets: number[],
    guided = false,
  ) {
    const session = await this.gradientGraph(key, names, { guided });
    const outputs = await session.run({
      [this.inputName]: this.inputTensor(data, count),
      [TARGET_INPUT]: new ort.Tensor('int64', BigInt64Array.from(targets, BigInt), [count]),
    });
    return {
      chosen: Array.from(outputs[TARGET_OUTPUT]!.data as BigInt64Array, Number),
      logits: outputs[this.outputName]!.data as Float32Array,
      values: (name: string) => outputs[name]!.data as Float32Array,
      gradients: (name: string) => outputs[gradientOutputName(name)]!.data as Float32Array,
    };
  }

  /** Input gradients for the pixel attributions; `withBiasLayers` adds FullGrad's biased layers. */
  async inputGradients(
    data: Float32Array,
    count: number,
    targets: number[],
    guided = false,
    withBiasLayers = false,
  ): Promise<InputGradients> {
    const biased = withBiasLayers ? biasLayers(this.model, this.layers()) : [];
    const key = `${guided ? 'guided' : 'gradient'}:input${withBiasLayers ? ':biases' : ''}`;
    const names = [this.inputName, ...biased.map((l) => l.name)];
    const run = await this.gradientsOf(key, names, data, count, targets, guided);
    return {
      chosen: run.chosen,
      logits: run.logits,
      gradients: run.gradients(this.inputName),
      biasLayers: biased.map((l) => ({
        ...l,
        shape: this.shapes.get(l.name)!.slice(1),
        gradients: run.gradients(l.name),
      })),
    };
  }

  /** The maps of the layer-resolution methods (CAM family, no test-time augmentation). */
  async layerMaps(data: Float32Array, count: number, request: CamRequest, hooks: RunHooks = {}): Promise<CamResult[]> {
    const layer = this.layer(request.layer);
    const classes = this.classes;
    const eigen = request.smoothing === 'eigen';
    const [channels, height, width] = layer.shape as [number, number, number];
    const plane = channels * height * width;
    const featureMaps = (values: Float32Array, i: number): FeatureMaps => ({
      channels,
      height,
      width,
      values: values.subarray(i * plane, (i + 1) * plane),
    });

    if (GRADIENT_METHODS.has(request.method) || request.method === 'finercam') {
      if (!layer.gradients)
        throw new ApiError(
          'model_unsupported_op',
          `${request.method} needs gradients at "${layer.name}", but ${layer.note}`,
        );
      const targets = BigInt64Array.from(request.targets, (t) => BigInt(t));
      const feeds: Record<string, ort.Tensor> = {
        [this.inputName]: this.inputTensor(data, count),
        [TARGET_INPUT]: new ort.Tensor('int64', targets, [count]),
      };
      const finer = request.method === 'finercam';
      if (finer) {
        // FinerCAM differentiates a weighted difference of scores, whose weights come from a first run.
        const scores = await this.logits(data, count);
        const seeds = new Float32Array(count * classes);
        for (let i = 0; i < count; i++) {
          const { seed, main } = finerSeed(scores.subarray(i * classes, (i + 1) * classes), request.targets[i]!);
          seeds.set(seed, i * classes);
          targets[i] = BigInt(main);
        }
        feeds[SEED_INPUT] = new ort.Tensor('float32', seeds, [count, classes]);
      }
      const key = `gradient:${layer.name}${finer ? ':seeded' : ''}`;
      const session = await this.gradientGraph(key, [layer.name], { seeded: finer });
      const outputs = await session.run(feeds);
      const logits = outputs[this.outputName]!.data as Float32Array;
      const chosen = outputs[TARGET_OUTPUT]!.data as BigInt64Array;
      const activations = toPlanes(outputs[layer.name]!.data as Float32Array, layer, count);
      const gradients = toPlanes(outputs[gradientOutputName(layer.name)]!.data as Float32Array, layer, count);
      hooks.progress?.(count, count);
      return Array.from({ length: count }, (_, i) => ({
        target: Number(chosen[i]),
        logits: logits.slice(i * classes, (i + 1) * classes),
        layerShape: [height, width],
        map: gradientMap(request.method, featureMaps(activations, i), gradients.subarray(i * plane, (i + 1) * plane), {
          eigen,
        }),
      }));
    }

    const head = await this.headSession(layer.name);
    const frontier = request.method === 'ablationcam' ? this.frontier(layer.name) : [];
    const outputs = await head.run({ [this.inputName]: this.inputTensor(data, count) });
    const logits = outputs[this.outputName]!.data as Float32Array;
    const held = outputs[layer.name]!.data as Float32Array;
    const activations = toPlanes(held, layer, count);
    const results: CamResult[] = [];
    for (let i = 0; i < count; i++) {
      throwIfCancelled(hooks.signal);
      const ownLogits = logits.slice(i * classes, (i + 1) * classes);
      const target = request.targets[i]! >= 0 ? request.targets[i]! : argmax(ownLogits);
      const a = featureMaps(activations, i);
      let map: Float32Array;
      if (request.method === 'eigencam') map = eigenMap(a);
      else if (request.method === 'kpcacam') map = kpcaMap(a);
      else if (request.method === 'fem') map = femMap(a);
      else if (request.method === 'randomcam') map = gradientMap('randomcam', a, new Float32Array(0), { eigen });
      else if (request.method === 'scorecam')
        map = weightedSum(a, await scoreCamWeights(this, data, i, a, target, hooks.signal), eigen);
      else {
        const tail = await this.tailSession(layer.name);
        const run = async (feeds: Record<string, ort.Tensor>) =>
          (await tail.run(feeds))[this.outputName]!.data as Float32Array;
        const [size, dims] = [held.length / count, this.shapes.get(layer.name)!.slice(1)];
        const values = held.subarray(i * size, (i + 1) * size);
        const frontierTensors = frontier.map((name) => ({ name, tensor: outputs[name]! }));
        const cut = {
          layer: { name: layer.name, values, dims, channelsLast: !!layer.layout },
          frontier: frontierTensors,
          index: i,
        };
        map = weightedSum(a, await ablationCamWeights(run, cut, ownLogits[target]!, target, hooks.signal), eigen);
      }
      results.push({ target, logits: ownLogits, layerShape: [height, width], map });
      hooks.progress?.(i + 1, count);
    }
    return results;
  }

  release(): Promise<void> {
    return this.sessions.release();
  }
}
