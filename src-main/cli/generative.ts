/**
 * `xaiws decompose | counterfactual | components`: the numbers the generative views show, as JSON.
 * Pixel arrays are left out unless --full asks for them (a 28x28 path alone is 9,000 numbers).
 */
import type { MethodName, Request, Result } from '../../src-shared/contract.ts';
import { ApiError } from '../../src-shared/errors.ts';

interface Client {
  call<M extends MethodName>(method: M, request: Request<M>): Promise<Result<M>>;
}

type Values = Record<string, string | boolean | undefined>;
type NumberArg = (value: string | boolean | undefined, what: string) => number;

const round = (value: number) => Number(value.toFixed(6));
const byClass = (classes: string[], values: number[]) =>
  Object.fromEntries(classes.map((name, c) => [name, round(values[c]!)]));

/** "pred"/"nearest"/absent: -1; otherwise a class index. */
function classArg(value: string | boolean | undefined, what: string): number {
  if (value === undefined || value === 'pred' || value === 'nearest') return -1;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0)
    throw new ApiError('invalid_request', `${what} must be a class index or "pred" (got "${value}")`);
  return parsed;
}

export async function generativeCommand(
  client: Client,
  command: 'decompose' | 'counterfactual' | 'components',
  { modelId, imageId, values, number }: { modelId: number; imageId: number; values: Values; number: NumberArg },
): Promise<unknown> {
  const full = values.full === true;
  if (command === 'decompose') {
    const result = await client.call('generative.decomposition', {
      modelId,
      imageId,
      target: classArg(values.class, '--class'),
    });
    if (full) return result;
    const { classes } = result;
    return {
      imageId,
      predicted: classes[result.predicted],
      distinctFor: result.targetClass,
      reconstructionError: result.reconstructionError,
      parts: result.parts.map((part) => ({
        name: part.name,
        min: round(part.min),
        max: round(part.max),
        probabilities: byClass(classes, part.probabilities),
      })),
      globalBeta: {
        betas: result.beta.betas,
        [result.targetClass]: result.beta.probabilities.map((row) => round(row[result.target]!)),
        auc: result.beta.auc,
      },
      cached: result.cached,
    };
  }
  if (command === 'counterfactual') {
    const result = await client.call('generative.counterfactual', {
      modelId,
      imageId,
      target: classArg(values.target, '--target'),
      referenceImageId: values.reference ? number(values.reference, '--reference') : undefined,
      steps: values.steps ? number(values.steps, '--steps') : undefined,
    });
    if (full) return result;
    const { classes } = result;
    return {
      imageId,
      predicted: classes[result.predicted],
      target: result.targetClass,
      via: result.via,
      referenceImageId: result.referenceImageId,
      flipStep: result.flipStep,
      flipClass: result.flipClass,
      steps: result.alphas.map((alpha, k) => ({
        step: k,
        alpha: round(alpha),
        predicted: classes[result.predictions[k]!],
        probabilities: byClass(classes, result.probabilities[k]!),
      })),
      meanDifference: round(result.difference.reduce((a, b) => a + b, 0) / result.difference.length),
      cached: result.cached,
    };
  }
  const top = values.top ? number(values.top, '--top') : 8;
  const result = await client.call('generative.components', {
    modelId,
    imageId,
    target: classArg(values.class, '--class'),
    top,
  });
  if (full) return result;
  return {
    imageId,
    predicted: result.classes[result.predicted],
    class: result.targetClass,
    logit: round(result.logit),
    bias: round(result.bias),
    contributionsSum: round(result.channels.reduce((sum, c) => sum + c.contribution, 0)),
    channels: result.channels.slice(0, top).map((c) => ({
      channel: c.channel,
      weight: round(c.weight),
      evidence: round(c.evidence),
      contribution: round(c.contribution),
      prototypes: c.prototypes.map((p) => ({
        imageId: p.imageId,
        trainIndex: p.trainIndex,
        label: p.label,
        value: round(p.value),
      })),
    })),
    otherChannels: round(result.channels.slice(top).reduce((sum, c) => sum + c.contribution, 0)),
    prototypeSource: result.prototypeSource,
    cached: result.cached,
  };
}
