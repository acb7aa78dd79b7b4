/**
 * Method ranking from human labels, per class and overall. Ratings: the mean of each 1-5 scale with a
 * 95 % t interval, unweighted and weighted by the annotator's reliability. Pairwise choices: win rate
 * (a "neither" is half a win to each side) and Bradley-Terry log-strength, both also weighted. Beside
 * them the faithfulness metrics of the same maps, and Spearman's correlation across methods between the
 * human score and each metric, each metric turned so that larger is better (deletion and the sanity
 * check's similarity are negated); a positive correlation means the metric agrees with people.
 */
import type { Faithfulness, MethodRanking, MethodRow } from '../../src-shared/schemas/aggregate.ts';
import { RATING_SCALES } from '../../src-shared/schemas/labels.ts';
import type { LabelRecord } from './collect.ts';
import { bradleyTerry, meanCi, spearman, type Comparison } from './stats.ts';

/** The rating scales' ends: an interval of a mean rating never reaches beyond them. */
const RATING_RANGE = [1, 5] as const;

/** Virtual ties of each method with a reference, so a method that never won keeps a finite strength. */
export const BT_PRIOR = 0.5;

export const METRICS = [
  { key: 'deletion', better: -1 },
  { key: 'insertion', better: 1 },
  { key: 'road', better: 1 },
  { key: 'sanity', better: -1 },
] as const;

export type FaithfulnessOf = (method: string, records: readonly LabelRecord[]) => Faithfulness;

const round = (x: number | null | undefined) =>
  x === null || x === undefined || !Number.isFinite(x) ? null : Math.round(x * 1e4) / 1e4;

function rows(records: readonly LabelRecord[], faithfulnessOf: FaithfulnessOf): MethodRow[] {
  const ratings = records.filter((r) => r.taskType === 'rating' && r.answer.type === 'rating');
  const pairs = records.filter(
    (r) =>
      r.taskType === 'pairwise' &&
      r.answer.type === 'pairwise' &&
      r.methods.length === 2 &&
      r.methods[0] !== r.methods[1],
  );
  const methods = [...new Set([...ratings.map((r) => r.methods[0]!), ...pairs.flatMap((r) => r.methods)])].sort();
  const comparisons = (weighted: boolean): Comparison[] =>
    pairs.map((r) => {
      const choice = (r.answer as { choice: 'a' | 'b' | 'neither' }).choice;
      return {
        a: r.methods[0]!,
        b: r.methods[1]!,
        outcome: choice === 'a' ? 1 : choice === 'b' ? 0 : 0.5,
        weight: weighted ? r.reliability : 1,
      };
    });
  const bt = bradleyTerry(methods, comparisons(false), BT_PRIOR);
  const btWeighted = bradleyTerry(methods, comparisons(true), BT_PRIOR);
  const out = methods.map((method): MethodRow => {
    const mine = ratings.filter((r) => r.methods[0] === method);
    const scales: MethodRow['ratings'] = {};
    for (const scale of RATING_SCALES) {
      const values = mine.map((r) => (r.answer as { scores: Record<string, number> }).scores[scale.key]!);
      scales[scale.key] = {
        unweighted: meanCi(values, undefined, RATING_RANGE),
        weighted: meanCi(
          values,
          mine.map((r) => r.reliability),
          RATING_RANGE,
        ),
      };
    }
    let wins = 0,
      losses = 0,
      ties = 0,
      weightedWins = 0,
      weightedTotal = 0;
    for (const c of comparisons(true)) {
      if (c.a !== method && c.b !== method) continue;
      const mineOutcome = c.a === method ? c.outcome : 1 - c.outcome;
      if (mineOutcome === 1) wins++;
      else if (mineOutcome === 0) losses++;
      else ties++;
      weightedWins += c.weight! * mineOutcome;
      weightedTotal += c.weight!;
    }
    const comparisonsCount = wins + losses + ties;
    return {
      method,
      ratings: scales,
      pairwise: {
        comparisons: comparisonsCount,
        wins,
        losses,
        ties,
        winRate: comparisonsCount ? round((wins + ties / 2) / comparisonsCount) : null,
        weightedWinRate: weightedTotal ? round(weightedWins / weightedTotal) : null,
        bradleyTerry: comparisonsCount ? round(bt.get(method)) : null,
        bradleyTerryWeighted: comparisonsCount ? round(btWeighted.get(method)) : null,
      },
      faithfulness: faithfulnessOf(
        method,
        records.filter((r) => r.methods.includes(method)),
      ),
      humanRank: null,
    };
  });
  const scores = humanScores(out, true);
  const ranked = out
    .filter((r) => scores.get(r.method) !== undefined)
    .sort((a, b) => scores.get(b.method)! - scores.get(a.method)!);
  ranked.forEach((r, i) => (r.humanRank = i + 1));
  return out.sort((a, b) => (a.humanRank ?? Infinity) - (b.humanRank ?? Infinity) || a.method.localeCompare(b.method));
}

/** The human score of each method: the "justifies" mean when any method was rated, else Bradley-Terry. */
export function humanScores(rows: readonly MethodRow[], weighted: boolean): Map<string, number> {
  const rated = rows.some((r) => r.ratings['justifies']!.unweighted.mean !== null);
  const out = new Map<string, number>();
  for (const r of rows) {
    const value = rated
      ? r.ratings['justifies']![weighted ? 'weighted' : 'unweighted'].mean
      : weighted
        ? r.pairwise.bradleyTerryWeighted
        : r.pairwise.bradleyTerry;
    if (value !== null) out.set(r.method, value);
  }
  return out;
}

function correlations(rows: readonly MethodRow[]): MethodRanking['correlations'] {
  const out: MethodRanking['correlations'] = [];
  for (const weighted of [true, false]) {
    const human = humanScores(rows, weighted);
    for (const metric of METRICS) {
      const both = rows.filter((r) => human.has(r.method) && r.faithfulness[metric.key] !== null);
      const rho =
        both.length >= 3
          ? spearman(
              both.map((r) => human.get(r.method)!),
              both.map((r) => metric.better * r.faithfulness[metric.key]!),
            )
          : null;
      out.push({ metric: metric.key, methods: both.length, spearman: round(rho), weighted });
    }
  }
  return out;
}

export function rankMethods(records: readonly LabelRecord[], faithfulnessOf: FaithfulnessOf): MethodRanking[] {
  const judged = records.filter((r) => r.taskType === 'rating' || r.taskType === 'pairwise');
  if (judged.length === 0) return [];
  const overall = rows(judged, faithfulnessOf);
  const out: MethodRanking[] = [
    { scope: 'all classes', classIndex: null, rows: overall, correlations: correlations(overall) },
  ];
  const classes = [...new Set(judged.map((r) => r.classIndex))].sort((a, b) => a - b);
  for (const classIndex of classes) {
    const mine = judged.filter((r) => r.classIndex === classIndex);
    const classRows = rows(mine, faithfulnessOf);
    out.push({ scope: mine[0]!.className, classIndex, rows: classRows, correlations: correlations(classRows) });
  }
  return out;
}
