/**
 * The model cut after some of its layers (Ablation-CAM's tail, the layer advice's check): fed the
 * values the whole model computes at its inputs, the tail gives the whole model's scores, at any batch
 * size, also where it reads integer shape arithmetic from before the cut (a ViT's attention reshapes
 * to the batch size), which it now computes itself instead of refusing the cut.
 */
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { OnnxModel } from '../../src-main/models/onnx/model.ts';
import { deterministicInput, probeShapes } from '../../src-main/models/onnx/probe.ts';
import { candidateLayers, tailFrom } from '../../src-main/models/gradient/layers.ts';

const open = (model: OnnxModel) => ort.InferenceSession.create(model.encode(), { intraOpNumThreads: 2 });

describe('the tail of a model', () => {
  it('after several token layers of a ViT gives the whole model’s scores at batches 1 and 3', async () => {
    const model = OnnxModel.read(readFileSync('test/fixtures/cam/library/vit.onnx'));
    const probe = await probeShapes(model, [3, 32, 32], { threads: 2 });
    const output = model.outputNames()[0]!;
    const tokens = candidateLayers(model, probe.shapes, probe.types, output, probe.batchAxes).filter((l) => l.layout);
    // The last 32 token layers (the advice's first check): they begin in the first block's MLP, so the
    // tail holds the last block's attention, whose reshapes read the batch size from shapes.
    const starts = tokens.slice(-32).map((l) => l.name);
    const tail = tailFrom(model, starts, probe, output);
    expect(tail.inputs.length).toBeGreaterThan(0);
    expect(tail.inputs.every((name) => probe.types.get(name) === 'float32')).toBe(true);
    expect(tail.model.graph.node.length).toBeLessThan(model.graph.node.length / 2);
    // The same cut refused before integer tensors from before it were computed in the tail.
    const integersRead = tail.model.graph.node.some((n) => n.opType === 'Shape');
    expect(integersRead).toBe(true);

    const head = model.extended();
    head.setOutputs([output, ...tail.inputs]);
    const [whole, cut] = [await open(head), await open(tail.model)];
    try {
      for (const batch of [1, 3]) {
        const dims = [batch, 3, 32, 32];
        const ran = await whole.run({
          [model.inputNames()[0]!]: new ort.Tensor('float32', deterministicInput(dims), dims),
        });
        const feeds = Object.fromEntries(tail.inputs.map((name) => [name, ran[name]!]));
        const scores = (await cut.run(feeds))[output]!.data as Float32Array;
        const expected = ran[output]!.data as Float32Array;
        expect(scores.length).toBe(expected.length);
        for (const [i, value] of expected.entries()) expect(scores[i]).toBeCloseTo(value, 4);
      }
    } finally {
      await Promise.all([whole.release(), cut.release()]);
    }
  });

  it('refuses a cut it cannot feed, naming the layer and the tensor', async () => {
    const model = OnnxModel.read(readFileSync('test/fixtures/cam/library/vit.onnx'));
    const probe = await probeShapes(model, [3, 32, 32], { threads: 2 });
    const output = model.outputNames()[0]!;
    const tokens = candidateLayers(model, probe.shapes, probe.types, output, probe.batchAxes).filter((l) => l.layout);
    const starts = tokens.slice(-32).map((l) => l.name);
    // Were every other tensor an integer one, computing them in the tail would lead back to the model's input.
    const types = new Map([...probe.types].map(([name, type]) => [name, starts.includes(name) ? type : 'int32']));
    expect(() => tailFrom(model, starts, { shapes: probe.shapes, types }, output)).toThrow(
      `after "${starts[0]}" needs the int32 tensor "${model.inputNames()[0]}"`,
    );
  });
});
