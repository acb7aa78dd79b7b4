/**
 * The gradient builder op by op against central finite differences: every op of the supported list
 * in a one- or two-node model, with awkward geometry (strides, padding, groups, dilation, ceil mode,
 * broadcasting), differentiated with respect to the input for several class scores.
 */
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { buildGradientModel, gradientOutputName, TARGET_INPUT } from '../../src-main/models/gradient/builder.ts';
import type { OnnxModel } from '../../src-main/models/onnx/model.ts';
import { probeShapes } from '../../src-main/models/onnx/probe.ts';
import {
  float,
  floatTensor,
  int,
  int64Tensor,
  ints,
  makeModel,
  node,
  seeded,
  session,
  str,
  type ModelSpec,
} from '../support/onnx-builder.ts';
import { conv } from '../support/onnx-builder.ts';

/**
 * The gradient builder op by op against central finite differences: every op of the supported list
 * in a one- or two-node model, with awkward geometry (strides, padding, groups, dilation, ceil mode,
 * broadcasting), differentiated with respect to the input for several class scores.
 */

const STEP = 1e-2;

/** Gradient of score[target] w.r.t. x, from the built graph and from finite differences (float64 sums). */
async function compare(model: OnnxModel, inputShape: number[], x: Float32Array) {
  const { shapes } = await probeShapes(model, inputShape);
  const classes = shapes.get('score')![1]!;
  const targets = [...new Set([0, Math.floor(classes / 3), Math.floor((2 * classes) / 3), classes - 1])];
  const size = x.length;
  const gradient = buildGradientModel(model, shapes, { targets: ['x'] });
  const g = await session(gradient.model);
  const batch = new Float32Array(size * targets.length);
  targets.forEach((_, i) => batch.set(x, i * size));
  const out = await g.run({
    x: new ort.Tensor('float32', batch, [targets.length, ...inputShape]),
    [TARGET_INPUT]: new ort.Tensor('int64', BigInt64Array.from(targets.map(BigInt)), [targets.length]),
  });
  const analytic = out[gradientOutputName('x')]!.data as Float32Array;
  expect(Array.from(out['xaiws_target_used']!.data as BigInt64Array, Number)).toEqual(targets);

  const forward = await session(model);
  const perturbed = new Float32Array(2 * size * size);
  for (let i = 0; i < size; i++) {
    perturbed.set(x, 2 * i * size);
    perturbed.set(x, (2 * i + 1) * size);
    perturbed[2 * i * size + i]! += STEP;
    perturbed[(2 * i + 1) * size + i]! -= STEP;
  }
  const scores = (await forward.run({ x: new ort.Tensor('float32', perturbed, [2 * size, ...inputShape]) })).score!
    .data as Float32Array;
  let worst = 0;
  let scale = 1e-3;
  targets.forEach((t, row) => {
    for (let i = 0; i < size; i++) {
      const numeric = (scores[2 * i * classes + t]! - scores[(2 * i + 1) * classes + t]!) / (2 * STEP);
      const exact = analytic[row * size + i]!;
      worst = Math.max(worst, Math.abs(numeric - exact));
      scale = Math.max(scale, Math.abs(exact));
    }
  });
  return { worst, scale, analytic };
}

/**
 * Distinct values on a shuffled grid, half a step off its ends: neighbours differ by far more than the
 * finite-difference step, so no max-pool window, ReLU or clip bound is crossed by a perturbation.
 */
function spread(count: number, low: number, high: number): Float32Array {
  const step = (high - low) / count;
  const values = Array.from({ length: count }, (_, i) => low + (i + 0.5) * step);
  const order = seeded(count, 99);
  const shuffled = values
    .map((v, i) => [order[i]!, v] as const)
    .sort((a, b) => a[0] - b[0])
    .map(([, v]) => v);
  return Float32Array.from(shuffled);
}

interface Case extends ModelSpec {
  title: string;
  low?: number;
  high?: number;
}

const C = 3;
function convCase(
  title: string,
  outChannels: number,
  group: number,
  k: number[],
  attrs: ReturnType<typeof int>[],
  inputShape = [C, 7, 6],
): Case {
  const c = conv('y', 'x', outChannels, inputShape[0]! / group, k, [int('group', group), ...attrs], 7);
  return { title, inputShape, nodes: [c.node], initializers: c.inits, result: 'y' };
}

const cases: Case[] = [
  convCase('Conv stride 2, pads 1', 4, 1, [3, 3], [ints('strides', [2, 2]), ints('pads', [1, 1, 1, 1])]),
  convCase(
    'Conv grouped, dilated, asymmetric pads',
    4,
    2,
    [3, 2],
    [ints('dilations', [2, 1]), ints('pads', [0, 1, 2, 0])],
    [4, 7, 6],
  ),
  convCase('Conv depthwise stride 2', 3, 3, [3, 3], [ints('strides', [2, 2]), ints('pads', [1, 1, 1, 1])]),
  convCase('Conv auto_pad SAME_UPPER stride 2', 2, 1, [3, 3], [str('auto_pad', 'SAME_UPPER'), ints('strides', [2, 2])]),
  {
    title: 'ConvTranspose stride 2, pads 1, output_padding 1',
    inputShape: [C, 4, 3],
    nodes: [
      node('ConvTranspose', ['x', 'w'], 'y', [
        ints('kernel_shape', [3, 3]),
        ints('strides', [2, 2]),
        ints('pads', [1, 1, 1, 1]),
        ints('output_padding', [1, 0]),
      ]),
    ],
    initializers: [floatTensor('w', [C, 2, 3, 3], seeded(C * 18, 3, -0.5, 0.5))],
    result: 'y',
  },
  {
    title: 'Gemm with transB, alpha and a broadcast bias',
    inputShape: [6],
    nodes: [node('Gemm', ['x', 'w', 'b'], 'y', [int('transB', 1), float('alpha', 0.7), float('beta', 0.5)])],
    initializers: [floatTensor('w', [5, 6], seeded(30, 4)), floatTensor('b', [1, 5], seeded(5, 5))],
    result: 'y',
  },
  {
    title: 'MatMul batched by a weight matrix',
    inputShape: [3, 4],
    nodes: [node('MatMul', ['x', 'w'], 'y')],
    initializers: [floatTensor('w', [4, 5], seeded(20, 6))],
    result: 'y',
  },
  {
    title: 'Add, Sub, Mul, Div with broadcasting and both inputs on the path',
    inputShape: [C, 3, 2],
    nodes: [
      node('Mul', ['x', 'x'], 'xx'),
      node('Add', ['xx', 'one'], 'den'),
      node('Add', ['x', 'bias'], 'a'),
      node('Mul', ['a', 'x'], 'm'),
      node('Sub', ['m', 'scale'], 's'),
      node('Div', ['s', 'den'], 'd0'),
      node('Add', ['d0', 'x'], 'd1'),
      node('Add', ['d1', 'one'], 'den2'),
      node('Div', ['x', 'den2'], 'y0'),
      node('Sub', ['one', 'y0'], 'y'),
    ],
    initializers: [
      floatTensor('bias', [1, C, 1, 1], seeded(C, 8)),
      floatTensor('scale', [2], seeded(2, 9)),
      floatTensor('one', [], [3]),
    ],
    result: 'y',
    low: 0.2,
    high: 1,
  },
  {
    title: 'Relu, LeakyRelu, Sigmoid, Tanh',
    inputShape: [2, 3, 3],
    nodes: [
      node('Relu', ['x'], 'r'),
      node('LeakyRelu', ['x'], 'l', [float('alpha', 0.1)]),
      node('Sigmoid', ['x'], 's'),
      node('Tanh', ['x'], 't'),
      node('Concat', ['r', 'l', 's', 't'], 'y', [int('axis', 1)]),
    ],
    result: 'y',
  },
  {
    title: 'Clip (ReLU6 bounds), HardSigmoid, HardSwish',
    inputShape: [2, 3, 3],
    nodes: [
      node('Clip', ['x', 'lo', 'hi'], 'c'),
      node('HardSigmoid', ['x'], 'h', [float('alpha', 1 / 6), float('beta', 0.5)]),
      node('HardSwish', ['x'], 'w'),
      node('Concat', ['c', 'h', 'w'], 'y', [int('axis', 1)]),
    ],
    initializers: [floatTensor('lo', [], [0]), floatTensor('hi', [], [0.5])],
    result: 'y',
    opset: 14,
    low: -4,
    high: 4,
  },
  {
    title: 'BatchNormalization (inference)',
    inputShape: [C, 2, 3],
    nodes: [node('BatchNormalization', ['x', 'g', 'b', 'm', 'v'], 'y', [float('epsilon', 1e-3)])],
    initializers: [
      floatTensor('g', [C], seeded(C, 10)),
      floatTensor('b', [C], seeded(C, 11)),
      floatTensor('m', [C], seeded(C, 12)),
      floatTensor('v', [C], seeded(C, 13, 0.5, 2)),
    ],
    result: 'y',
  },
  {
    title: 'MaxPool 3x3 stride 2 pads 1 (overlapping windows)',
    inputShape: [2, 7, 6],
    nodes: [
      node('MaxPool', ['x'], 'y', [ints('kernel_shape', [3, 3]), ints('strides', [2, 2]), ints('pads', [1, 1, 1, 1])]),
    ],
    result: 'y',
  },
  {
    title: 'MaxPool 2x2 stride 2 on an odd size (trailing row unused)',
    inputShape: [2, 5, 5],
    nodes: [node('MaxPool', ['x'], 'y', [ints('kernel_shape', [2, 2]), ints('strides', [2, 2])])],
    result: 'y',
  },
  {
    title: 'MaxPool ceil_mode, dilation 2',
    inputShape: [1, 8, 7],
    nodes: [
      node('MaxPool', ['x'], 'y', [
        ints('kernel_shape', [2, 3]),
        ints('strides', [2, 2]),
        ints('dilations', [2, 1]),
        int('ceil_mode', 1),
      ]),
    ],
    result: 'y',
    opset: 12,
  },
  {
    title: 'AveragePool 3x3 stride 2 pads 1, padding not counted',
    inputShape: [2, 6, 5],
    nodes: [
      node('AveragePool', ['x'], 'y', [
        ints('kernel_shape', [3, 3]),
        ints('strides', [2, 2]),
        ints('pads', [1, 1, 1, 1]),
      ]),
    ],
    result: 'y',
  },
  {
    title: 'AveragePool padding counted, ceil_mode',
    inputShape: [2, 6, 5],
    nodes: [
      node('AveragePool', ['x'], 'y', [
        ints('kernel_shape', [2, 2]),
        ints('strides', [2, 2]),
        ints('pads', [1, 0, 0, 0]),
        int('count_include_pad', 1),
        int('ceil_mode', 1),
      ]),
    ],
    result: 'y',
  },
  {
    title: 'Pad (constant, as torch writes before a padded max pool)',
    inputShape: [2, 4, 3],
    nodes: [
      node('Pad', ['x', 'pads', 'value'], 'p'),
      node('MaxPool', ['p'], 'y', [ints('kernel_shape', [3, 3]), ints('strides', [2, 2])]),
    ],
    initializers: [int64Tensor('pads', [8], [0, 0, 1, 2, 0, 0, 1, 0]), floatTensor('value', [], [-Infinity])],
    result: 'y',
  },
  {
    title: 'GlobalAveragePool',
    inputShape: [C, 4, 3],
    nodes: [node('Mul', ['x', 'x'], 'sq'), node('GlobalAveragePool', ['sq'], 'y')],
    result: 'y',
  },
  {
    title: 'Reshape, Transpose, Squeeze, Unsqueeze, Identity, Dropout',
    inputShape: [2, 3, 4],
    nodes: [
      node('Transpose', ['x'], 't', [ints('perm', [0, 3, 1, 2])]),
      node('Reshape', ['t', 'shape'], 'r'),
      node('Unsqueeze', ['r', 'axes'], 'u'),
      node('Squeeze', ['u', 'axes'], 's'),
      node('Identity', ['s'], 'i'),
      node('Dropout', ['i'], 'd'),
      node('Mul', ['d', 'w'], 'y'),
    ],
    initializers: [
      int64Tensor('shape', [3], [0, 4, 6]),
      int64Tensor('axes', [1], [1]),
      floatTensor('w', [4, 6], seeded(24, 14)),
    ],
    result: 'y',
  },
  {
    title: 'Softmax over the last axis (a probability score)',
    inputShape: [6],
    nodes: [node('Gemm', ['x', 'w'], 'z', [int('transB', 1)]), node('Softmax', ['z'], 'y', [int('axis', -1)])],
    initializers: [floatTensor('w', [4, 6], seeded(24, 15, -2, 2))],
    result: 'y',
  },
  {
    title: 'Softmax with opset 11 semantics (flattened from the axis)',
    inputShape: [6],
    nodes: [node('Gemm', ['x', 'w'], 'z', [int('transB', 1)]), node('Softmax', ['z'], 'y', [int('axis', 1)])],
    initializers: [floatTensor('w', [4, 6], seeded(24, 16, -2, 2))],
    result: 'y',
    opset: 11,
  },
];

describe('gradient graph, op by op against finite differences', () => {
  for (const spec of cases) {
    it(spec.title, async () => {
      const model = makeModel(spec);
      const size = spec.inputShape.reduce((a, b) => a * b, 1);
      const x = spread(size, spec.low ?? -2, spec.high ?? 2);
      const { worst, scale } = await compare(model, spec.inputShape, x);
      expect(worst / scale).toBeLessThan(3e-3);
    });
  }
});
