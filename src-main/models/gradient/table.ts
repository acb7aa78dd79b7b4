/**
 * The gradient builder's op table: every rule of every family, by op. The list of supported ops is
 * derived from it, never written twice.
 */
import { ApiError } from '../../../src-shared/errors.ts';
import type { NodeProto } from '../onnx/model.ts';
import { ACTIVATION_RULES } from './activation.ts';
import type { GradientRule } from './context.ts';
import { CONVOLUTION_RULES } from './convolution.ts';
import { ELEMENTWISE_RULES } from './elementwise.ts';
import { INDEXING_RULES } from './indexing.ts';
import { LINEAR_RULES } from './linear.ts';
import { MATH_RULES } from './math.ts';
import { NORMALISATION_RULES } from './normalisation.ts';
import { POOLING_RULES } from './pooling.ts';
import { REDUCE_RULES } from './reduce.ts';
import { RESIZE_RULES } from './resize.ts';
import { SHAPE_RULES } from './shape.ts';

export const GRADIENT_RULES: readonly GradientRule[] = [
  ...SHAPE_RULES,
  ...INDEXING_RULES,
  ...ELEMENTWISE_RULES,
  ...MATH_RULES,
  ...ACTIVATION_RULES,
  ...REDUCE_RULES,
  ...NORMALISATION_RULES,
  ...POOLING_RULES,
  ...RESIZE_RULES,
  ...CONVOLUTION_RULES,
  ...LINEAR_RULES,
];

const byOp = new Map<string, GradientRule[]>();
for (const rule of GRADIENT_RULES) byOp.set(rule.op, [...(byOp.get(rule.op) ?? []), rule]);

/** Every op with a gradient rule (at some opset). */
export const GRADIENT_OPS: readonly string[] = [...byOp.keys()];

export function hasRule(op: string): boolean {
  return byOp.has(op);
}

/** The rule for a node at the model's opset; a named error when the op has none or none at this opset. */
export function ruleFor(node: NodeProto, opset: number, label: string): GradientRule {
  const rules = byOp.get(node.opType ?? '');
  if (!rules) throw new ApiError('model_unsupported_op', `${label} is not supported by the gradient builder`);
  const rule = rules.find(({ opsets: [low, high] }) => opset >= low && opset <= high);
  if (!rule) {
    const ranges = rules.map(({ opsets: [low, high] }) => `${low} to ${high}`).join(', ');
    throw new ApiError(
      'model_unsupported_op',
      `${label}: the gradient builder supports ${node.opType} at opsets ${ranges}, and the model uses opset ${opset}`,
    );
  }
  return rule;
}
