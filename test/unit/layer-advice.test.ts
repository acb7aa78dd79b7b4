/**
 * The layer picker's advice and names: a ViT's layers past its last attention get no gradient at their
 * tokens (found by running the gradient graph, not by name), its norm before the last block is
 * recommended, a CNN's last block is; ONNX tensor names read as module paths.
 */
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { CamEngine } from '../../src-main/explain/cam/engine.ts';
import { adviseLayers, zeroGradientLayers } from '../../src-main/explain/cam/layer-advice.ts';
import { layerLabel, parseLayerName } from '../../src-shared/layer-names.ts';
import type { LayerInfo } from '../../src-shared/contract.ts';
import { layerRows } from '../../src-renderer/lib/layer-tree.ts';

const factory = (bytes: Uint8Array) => ort.InferenceSession.create(bytes, { intraOpNumThreads: 2 });
const engines: CamEngine[] = [];
afterAll(async () => Promise.all(engines.map((e) => e.release())));
const open = async (name: string) => {
  const bytes = readFileSync(`test/fixtures/cam/library/${name}.onnx`);
  const engine = await CamEngine.create(bytes, { dims: [3, 32, 32], layout: 'NCHW' }, factory);
  engines.push(engine);
  return engine;
};

describe('layer advice', () => {
  it('flags the ViT layers whose tokens no longer reach the class token, and recommends the norm before the last block', async () => {
    const engine = await open('vit');
    const writes: string[][] = [];
    const layers = await adviseLayers(engine, { read: () => undefined, write: (names) => writes.push(names) });
    const zero = layers.filter((l) => l.zeroGradient).map((l) => layerLabel(l.name));
    expect(zero).toContain('encoder › layers › encoder_layer_1 › ln_2');
    expect(zero).toContain('encoder › ln');
    expect(zero).not.toContain('encoder › layers › encoder_layer_1 › ln_1');
    expect(zero).not.toContain('encoder › layers › encoder_layer_0 › ln_2');
    for (const layer of layers.filter((l) => l.zeroGradient))
      expect(layer.note).toMatch(/no gradient from the class score/);
    expect(writes).toEqual([layers.filter((l) => l.zeroGradient).map((l) => l.name)]);
    const recommended = layers.filter((l) => l.recommended);
    expect(recommended.map((l) => l.name)).toEqual([
      '/encoder/layers/encoder_layer_1/ln_1/LayerNormalization_output_0',
    ]);
    // Grad-CAM at a flagged layer is indeed empty, and at the recommended one it is not.
    const input = new Float32Array(3 * 32 * 32).map((_, i) => Math.sin(i));
    const [empty] = await engine.explain(input, 1, {
      method: 'gradcam',
      layer: zero.length ? layers.find((l) => l.zeroGradient)!.name : '',
      targets: [-1],
    });
    expect(Math.max(...empty!.map)).toBe(0);
    const [useful] = await engine.explain(input, 1, { method: 'gradcam', layer: recommended[0]!.name, targets: [-1] });
    expect(Math.max(...useful!.map)).toBeGreaterThan(0);
  });

  it("prepares a layer's Grad-CAM session ahead, and the explanations there use it", async () => {
    let created = 0;
    const bytes = readFileSync('test/fixtures/cam/library/vit.onnx');
    const engine = await CamEngine.create(bytes, { dims: [3, 32, 32], layout: 'NCHW' }, (model) => {
      created += 1;
      return factory(model);
    });
    engines.push(engine);
    const layer = '/encoder/layers/encoder_layer_1/ln_1/LayerNormalization_output_0';
    engine.prepare(layer);
    await vi.waitFor(() => expect(created).toBe(1), { timeout: 60_000 });
    const input = new Float32Array(3 * 32 * 32).map((_, i) => Math.cos(i));
    for (const method of ['gradcam', 'layercam', 'xgradcam'] as const) {
      const [result] = await engine.explain(input, 1, { method, layer, targets: [-1] });
      expect(Math.max(...result!.map), method).toBeGreaterThan(0);
    }
    expect(created).toBe(1);
  });

  it('finds the same layers checking a chunk at a time from the deepest back as checking all at once', async () => {
    const engine = await open('vit');
    const all = await zeroGradientLayers(engine, Number.MAX_SAFE_INTEGER);
    expect(all.length).toBe(19); // of 46 token layers, interleaved with live ones in the last block
    // Chunks of 9 and 12 take four and three runs, some ending inside the interleaved part.
    for (const chunk of [9, 12, 32]) expect(await zeroGradientLayers(engine, chunk)).toEqual(all);
  });

  it('reuses a stored answer instead of running the model again, and recommends a CNN its last block', async () => {
    const vit = await open('vit');
    const stored = ['/encoder/layers/encoder_layer_0/ln_1/LayerNormalization_output_0'];
    const layers = await adviseLayers(vit, { read: () => stored, write: () => expect.fail('nothing to write') });
    expect(layers.filter((l) => l.zeroGradient).map((l) => l.name)).toEqual(stored);
    const cnn = await adviseLayers(await open('cnn'));
    expect(cnn.some((l) => l.zeroGradient)).toBe(false);
    expect(cnn.filter((l) => l.recommended).map((l) => layerLabel(l.name))).toEqual(['layer3 › relu2']);
  });
});

describe('layer names', () => {
  it('rebuilds module paths from exporter names', () => {
    expect(parseLayerName('/layer4/layer4.2/relu_2/Relu_output_0')).toEqual({
      path: ['layer4', '2', 'relu_2'],
      op: 'Relu',
    });
    expect(parseLayerName('/features/features.7/features.7.1/norm1/LayerNormalization_output_0')).toEqual({
      path: ['features', '7', '1', 'norm1'],
      op: 'LayerNormalization',
    });
    expect(parseLayerName('/layer4/layer4.2/Add_1_output_0')).toEqual({ path: ['layer4', '2'], op: 'Add' });
    expect(layerLabel('/features/features.10/Relu_output_0')).toBe('features › 10');
    expect(parseLayerName('model/conv2d/Relu:0')).toEqual({ path: ['model', 'conv2d'], op: 'Relu' });
    expect(layerLabel('onnx::Conv_123')).toBe('onnx::Conv_123');
    expect(layerLabel('input')).toBe('input');
  });
});

describe('the layer picker rows', () => {
  const layer = (name: string, op: string): LayerInfo => ({ name, op, shape: [8, 7, 7], gradients: true });
  // ResNet-50's block outputs: 16 blocks, each with convs, an Add and a ReLU.
  const resnet: LayerInfo[] = [layer('/conv1/Conv_output_0', 'Conv'), layer('/relu/Relu_output_0', 'Relu')];
  for (const [stage, blocks] of [
    [1, 3],
    [2, 4],
    [3, 6],
    [4, 3],
  ] as const)
    for (let b = 0; b < blocks; b++) {
      const scope = `/layer${stage}/layer${stage}.${b}`;
      resnet.push(layer(`${scope}/conv1/Conv_output_0`, 'Conv'), layer(`${scope}/relu/Relu_output_0`, 'Relu'));
      resnet.push(layer(`${scope}/Add_output_0`, 'Add'), layer(`${scope}/relu_2/Relu_output_0`, 'Relu'));
    }

  it('nests layers under their modules, one heading per module', () => {
    const rows = layerRows(resnet);
    expect(rows.filter((r) => r.kind === 'layer')).toHaveLength(resnet.length);
    const headings = rows.filter((r) => r.kind === 'module').map((r) => `${r.depth}:${r.label}`);
    expect(headings.filter((h) => h === '0:layer4')).toHaveLength(1);
    expect(headings.filter((h) => h.startsWith('1:'))).toHaveLength(16);
    const last = rows.at(-1)!;
    expect(last).toMatchObject({ kind: 'layer', label: 'relu_2', depth: 2 });
    const top = rows.find((r) => r.kind === 'layer' && r.layer.name === '/conv1/Conv_output_0');
    expect(top).toMatchObject({ label: 'conv1', depth: 0 });
  });

  it('searches readable names, ops and shapes, word by word, keeping the headings of what matches', () => {
    const rows = layerRows(resnet, 'layer4 relu_2');
    expect(
      rows.filter((r) => r.kind === 'layer').map((r) => (r.kind === 'layer' ? layerLabel(r.layer.name) : '')),
    ).toEqual(['layer4 › 0 › relu_2', 'layer4 › 1 › relu_2', 'layer4 › 2 › relu_2']);
    expect(rows.filter((r) => r.kind === 'module').map((r) => r.label)).toEqual(['layer4', '0', '1', '2']);
    expect(layerRows(resnet, 'add').filter((r) => r.kind === 'layer')).toHaveLength(16);
    expect(layerRows(resnet, 'nothing like this')).toEqual([]);
    const indices = layerRows(resnet, 'relu').flatMap((r) => (r.kind === 'layer' ? [r.index] : []));
    expect(indices).toEqual(indices.map((_, i) => i));
  });
});
