/**
 * DXAI arithmetic (METHODS.md 1). The generator's branches only approximate the image, so the parts
 * shown add up exactly: distinct = the sum of the distinct branches, agnostic = image - distinct; the
 * generator's own error is reported beside them. The global-beta curve runs the classifier on
 * image - beta x distinct for beta in 0..1; its area is divided by the value at beta 0, as the paper's is.
 */
export interface BranchRoles {
  distinct: number[];
  agnostic: number[];
}

export interface Parts {
  distinct: Float32Array;
  agnostic: Float32Array;
  reconstruction: Float32Array;
  error: { mae: number; max: number };
}

/** `branches` holds one image's B branches of `size` values each, back to back. */
export function splitBranches(image: Float32Array, branches: Float32Array, roles: BranchRoles, size: number): Parts {
  const count = roles.distinct.length + roles.agnostic.length;
  if (branches.length !== count * size)
    throw new Error(`expected ${count} branches of ${size} values, got ${branches.length} values`);
  const distinct = new Float32Array(size);
  const reconstruction = new Float32Array(size);
  for (const b of roles.distinct) for (let i = 0; i < size; i++) distinct[i]! += branches[b * size + i]!;
  for (let b = 0; b < count; b++) for (let i = 0; i < size; i++) reconstruction[i]! += branches[b * size + i]!;
  const agnostic = new Float32Array(size);
  let sum = 0;
  let max = 0;
  for (let i = 0; i < size; i++) {
    agnostic[i] = image[i]! - distinct[i]!;
    const error = Math.abs(reconstruction[i]! - image[i]!);
    sum += error;
    max = Math.max(max, error);
  }
  return { distinct, agnostic, reconstruction, error: { mae: sum / size, max } };
}

/** image - beta x distinct for every beta, back to back. */
export function betaImages(image: Float32Array, distinct: Float32Array, betas: readonly number[]): Float32Array {
  const size = image.length;
  const out = new Float32Array(betas.length * size);
  betas.forEach((beta, k) => {
    for (let i = 0; i < size; i++) out[k * size + i] = image[i]! - beta * distinct[i]!;
  });
  return out;
}

/** Trapezoid area under `values` over `xs`, divided by the first value (0 when that is 0). */
export function normalisedArea(xs: readonly number[], values: readonly number[]): number {
  let area = 0;
  for (let i = 1; i < xs.length; i++) area += ((values[i]! + values[i - 1]!) / 2) * (xs[i]! - xs[i - 1]!);
  return values[0]! > 0 ? area / values[0]! : 0;
}
