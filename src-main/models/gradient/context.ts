/**
 * What a gradient rule sees: the builder's tools for emitting ONNX nodes (GradientContext) and the one
 * forward node it differentiates (Step). A rule adds, for each input on the gradient path, the
 * vector-Jacobian product of its node's output gradient `g`.
 */
import type { AttributeProto, NodeProto, OnnxModel } from '../onnx/model.ts';

export interface GradientContext {
  readonly model: OnnxModel;
  readonly opset: number;
  /** Guided backpropagation: every ReLU also drops negative incoming gradients. */
  readonly guided: boolean;
  node(opType: string, inputs: string[], attribute?: AttributeProto[], output?: string): string;
  floats(values: number[], dims?: number[]): string;
  ints(values: number[], dims?: number[]): string;
  shapeOf(tensor: string): number[];
  reduceSum(x: string, axes: number[], keepdims: boolean): string;
  reduceMean(x: string, axes: number[], keepdims: boolean): string;
  unsqueeze(x: string, axes: number[]): string;
  /** The values of an integer input that is constant or came out the same at both probe batch sizes, or undefined. */
  constantInts(tensor: string): number[] | undefined;
  /** The element type of a tensor as the probe saw it ('float32', 'float64', ...), or undefined. */
  typeOf(tensor: string): string | undefined;
  /** The axis of `tensor` that follows the batch (0 when unknown), or null when none does. */
  batchAxis(tensor: string): number | null;
  /** Zeros of the (runtime) shape of `tensor`. */
  zerosLike(tensor: string): string;
  /** Sums a broadcast gradient back to the shape of the input it came from. */
  unbroadcast(gradient: string, inputShape: number[], outputShape: number[]): string;
  zero(): string;
}

export interface Step {
  node: NodeProto;
  inputs: string[];
  /** The first input and the first output. */
  x: string;
  y: string;
  /** The gradient of `y` ('' when only another output has one: see outputGradient). */
  g: string;
  /** The gradient of output `index`, or null when none reached it (multi-output ops such as Split). */
  outputGradient(index: number): string | null;
  /** Whether input `index` is on the gradient path (so wants a gradient). */
  wants(index: number): boolean;
  emit(index: number, gradient: string): void;
  /** "Conv node "conv1"", for error messages. */
  label: string;
}

export interface GradientRule {
  op: string;
  /** The opsets this rule implements, inclusive; the builder refuses a model outside them. */
  opsets: [number, number];
  backward(b: GradientContext, step: Step): void;
}

/** The newest opset any rule has been checked against; rules that hold for every later opset say so. */
export const LATEST_OPSET = 22;
