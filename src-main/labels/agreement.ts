/**
 * Inter-annotator agreement. Krippendorff's alpha (nominal, ordinal, interval) from the coincidence
 * matrix (Krippendorff 2011, "Computing Krippendorff's alpha-reliability"), Fleiss' kappa generalised
 * to a varying number of ratings per item, and the mean pairwise percent agreement, which is shown
 * beside them only (it ignores chance agreement). Confidence intervals are percentile bootstraps over
 * items. Units with fewer than two values are not pairable and drop out, as in Krippendorff.
 */
import { seededUniform } from '../../src-shared/random.ts';

export type Level = 'nominal' | 'ordinal' | 'interval';
export type Value = number | string;

export interface Rating {
  item: string;
  annotator: string;
  value: Value;
}

/** Values of one item (unit), one per annotator. */
type Unit = Value[];

export interface Interval {
  low: number | null;
  high: number | null;
}

export interface AgreementFigures {
  level: Level;
  /** Pairable items (two or more values) and the annotators who gave them. */
  items: number;
  annotators: number;
  values: number;
  alpha: number | null;
  alphaInterval: Interval;
  kappa: number | null;
  kappaInterval: Interval;
  /** Share of agreeing pairs of values within items (no chance correction). */
  percentAgreement: number | null;
}

/** Groups ratings into units; an annotator's last value for an item wins. */
export function unitsOf(ratings: readonly Rating[]): Map<string, Map<string, Value>> {
  const units = new Map<string, Map<string, Value>>();
  for (const { item, annotator, value } of ratings) {
    let unit = units.get(item);
    if (!unit) units.set(item, (unit = new Map()));
    unit.set(annotator, value);
  }
  return units;
}

function pairable(ratings: readonly Rating[]): Unit[] {
  return [...unitsOf(ratings).values()].map((unit) => [...unit.values()]).filter((unit) => unit.length >= 2);
}

function categories(units: readonly Unit[], level: Level): Value[] {
  const seen = new Set<Value>();
  for (const unit of units) for (const value of unit) seen.add(value);
  const list = [...seen];
  if (level === 'nominal') return list.sort((a, b) => String(a).localeCompare(String(b)));
  for (const value of list) {
    if (typeof value !== 'number' || !Number.isFinite(value))
      throw new Error(`${level} agreement needs numbers; got ${JSON.stringify(value)}`);
  }
  return (list as number[]).sort((a, b) => a - b);
}

/** The coincidence matrix o[c][k] and the category totals n_c. */
function coincidences(units: readonly Unit[], cats: readonly Value[]): { o: number[][]; totals: number[]; n: number } {
  const index = new Map(cats.map((c, i) => [c, i]));
  const o = cats.map(() => new Array<number>(cats.length).fill(0));
  for (const unit of units) {
    const m = unit.length;
    const counts = new Array<number>(cats.length).fill(0);
    for (const value of unit) counts[index.get(value)!]! += 1;
    for (let c = 0; c < cats.length; c++) {
      if (!counts[c]) continue;
      for (let k = 0; k < cats.length; k++) {
        if (!counts[k]) continue;
        const pairs = c === k ? counts[c]! * (counts[c]! - 1) : counts[c]! * counts[k]!;
        o[c]![k]! += pairs / (m - 1);
      }
    }
  }
  const totals = o.map((row) => row.reduce((sum, x) => sum + x, 0));
  return { o, totals, n: totals.reduce((sum, x) => sum + x, 0) };
}

/** Squared difference function delta^2(c, k) of the level, over category indices. */
function distances(cats: readonly Value[], totals: readonly number[], level: Level): number[][] {
  return cats.map((c, i) =>
    cats.map((k, j) => {
      if (level === 'nominal') return i === j ? 0 : 1;
      if (level === 'interval') return ((c as number) - (k as number)) ** 2;
      const [lo, hi] = i <= j ? [i, j] : [j, i];
      let between = 0;
      for (let g = lo; g <= hi; g++) between += totals[g]!;
      return (between - (totals[lo]! + totals[hi]!) / 2) ** 2;
    }),
  );
}

function alphaOfUnits(units: readonly Unit[], level: Level): number | null {
  if (units.length === 0) return null;
  const cats = categories(units, level);
  const { o, totals, n } = coincidences(units, cats);
  if (n <= 1) return null;
  const delta = distances(cats, totals, level);
  let observed = 0;
  let expected = 0;
  for (let c = 0; c < cats.length; c++) {
    for (let k = 0; k < cats.length; k++) {
      observed += o[c]![k]! * delta[c]![k]!;
      expected += totals[c]! * totals[k]! * delta[c]![k]!;
    }
  }
  if (expected === 0) return null; // one value only: agreement is undefined, not perfect
  return 1 - ((n - 1) * observed) / expected;
}

/** Fleiss' kappa; items may have different numbers of ratings (each needs two). */
function kappaOfUnits(units: readonly Unit[]): number | null {
  if (units.length === 0) return null;
  const totals = new Map<Value, number>();
  let ratings = 0;
  let agreementSum = 0;
  for (const unit of units) {
    const counts = new Map<Value, number>();
    for (const value of unit) counts.set(value, (counts.get(value) ?? 0) + 1);
    let same = 0;
    for (const [value, count] of counts) {
      same += count * (count - 1);
      totals.set(value, (totals.get(value) ?? 0) + count);
    }
    agreementSum += same / (unit.length * (unit.length - 1));
    ratings += unit.length;
  }
  const observed = agreementSum / units.length;
  let chance = 0;
  for (const count of totals.values()) chance += (count / ratings) ** 2;
  if (chance === 1) return null;
  return (observed - chance) / (1 - chance);
}

function percentOfUnits(units: readonly Unit[]): number | null {
  let same = 0;
  let pairs = 0;
  for (const unit of units) {
    const counts = new Map<Value, number>();
    for (const value of unit) counts.set(value, (counts.get(value) ?? 0) + 1);
    for (const count of counts.values()) same += count * (count - 1);
    pairs += unit.length * (unit.length - 1);
  }
  return pairs === 0 ? null : same / pairs;
}

export function krippendorffAlpha(ratings: readonly Rating[], level: Level): number | null {
  return alphaOfUnits(pairable(ratings), level);
}

export function fleissKappa(ratings: readonly Rating[]): number | null {
  return kappaOfUnits(pairable(ratings));
}

export function percentAgreement(ratings: readonly Rating[]): number | null {
  return percentOfUnits(pairable(ratings));
}

function quantile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  const position = (sorted.length - 1) * q;
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  return sorted[lower]! + (sorted[upper]! - sorted[lower]!) * (position - lower);
}

/** 95 % percentile bootstrap of a statistic over units resampled with replacement. */
function bootstrap(
  units: readonly Unit[],
  statistic: (units: Unit[]) => number | null,
  samples: number,
  seed: number,
): Interval {
  if (units.length < 2 || samples <= 0) return { low: null, high: null };
  const random = seededUniform(seed);
  const values: number[] = [];
  for (let s = 0; s < samples; s++) {
    const resampled: Unit[] = [];
    for (let i = 0; i < units.length; i++) resampled.push(units[Math.floor(random() * units.length)]!);
    const value = statistic(resampled);
    if (value !== null && Number.isFinite(value)) values.push(value);
  }
  values.sort((a, b) => a - b);
  return { low: quantile(values, 0.025), high: quantile(values, 0.975) };
}

export interface AgreementOptions {
  /** Bootstrap resamples; 0 leaves the intervals empty. */
  samples?: number;
  seed?: number;
}

export function agreement(ratings: readonly Rating[], level: Level, options: AgreementOptions = {}): AgreementFigures {
  const units = pairable(ratings);
  const samples = options.samples ?? 1000;
  const seed = options.seed ?? 1;
  const annotators = new Set<string>();
  const byItem = unitsOf(ratings);
  for (const unit of byItem.values())
    if (unit.size >= 2) for (const annotator of unit.keys()) annotators.add(annotator);
  return {
    level,
    items: units.length,
    annotators: annotators.size,
    values: units.reduce((sum, unit) => sum + unit.length, 0),
    alpha: alphaOfUnits(units, level),
    alphaInterval: bootstrap(units, (u) => alphaOfUnits(u, level), samples, seed),
    // Kappa treats values as unordered categories, whatever the level.
    kappa: kappaOfUnits(units),
    kappaInterval: bootstrap(units, kappaOfUnits, samples, seed + 1),
    percentAgreement: percentOfUnits(units),
  };
}

/** Alpha without each annotator in turn: a rise means the others agree better without them. */
export function leaveOneOut(
  ratings: readonly Rating[],
  level: Level,
): { annotator: string; alphaWithout: number | null; delta: number | null; values: number }[] {
  const all = krippendorffAlpha(ratings, level);
  const annotators = [...new Set(ratings.map((r) => r.annotator))].sort();
  return annotators.map((annotator) => {
    const without = krippendorffAlpha(
      ratings.filter((r) => r.annotator !== annotator),
      level,
    );
    return {
      annotator,
      alphaWithout: without,
      delta: without === null || all === null ? null : without - all,
      values: ratings.filter((r) => r.annotator === annotator).length,
    };
  });
}
