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
  /** The gradient of `y`. */
  g: string;
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
