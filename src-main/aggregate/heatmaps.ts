/**
 * Agreement heatmaps of the aggregate: how often annotators name the same concepts, per class and per method.
 */
import type { Heatmap } from '../../src-shared/schemas/aggregate.ts';
import { krippendorffAlpha, type Rating } from '../labels/agreement.ts';
import { type LabelRecord } from './collect.ts';
import { categoryOf } from './disagreement.ts';

export function agreementHeatmaps(
  records: readonly LabelRecord[],
  conceptOf: (term: string) => string | undefined,
): Heatmap[] {
  const measures = [
    {
      key: 'justifies',
      type: 'rating',
      level: 'ordinal' as const,
      value: (r: LabelRecord) => (r.answer.type === 'rating' ? r.answer.scores.justifies : null),
    },
    {
      key: 'predictable',
      type: 'rating',
      level: 'ordinal' as const,
      value: (r: LabelRecord) => (r.answer.type === 'rating' ? r.answer.scores.predictable : null),
    },
    {
      key: 'pairwise',
      type: 'pairwise',
      level: 'nominal' as const,
      value: (r: LabelRecord) => (r.answer.type === 'pairwise' ? r.answer.choice : null),
    },
    {
      key: 'reveal guess',
      type: 'reveal',
      level: 'nominal' as const,
      value: (r: LabelRecord) => (r.answer.type === 'reveal' ? categoryOf(r.answer, conceptOf, r.terms) : null),
    },
    {
      key: 'concept',
      type: 'concept',
      level: 'nominal' as const,
      value: (r: LabelRecord) => (r.answer.type === 'concept' ? categoryOf(r.answer, conceptOf, r.terms) : null),
    },
  ];
  const classes = [...new Set(records.map((r) => r.className))].sort();
  const used = measures.filter((m) => records.some((r) => r.taskType === m.type));
  const cells: Heatmap['cells'] = [];
  for (const className of classes) {
    for (const m of used) {
      const ratings: Rating[] = records
        .filter((r) => r.className === className && r.taskType === m.type)
        .map((r) => ({ item: r.itemUuid, annotator: r.annotator, value: m.value(r)! }));
      const perItem = new Map<string, number>();
      for (const r of ratings) perItem.set(r.item, (perItem.get(r.item) ?? 0) + 1);
      const alpha = krippendorffAlpha(ratings, m.level);
      cells.push({
        row: className,
        column: m.key,
        value: alpha === null ? null : Math.round(alpha * 1e4) / 1e4,
        n: [...perItem.values()].filter((n) => n >= 2).length,
      });
    }
  }
  const byClass: Heatmap = {
    title: "Agreement by class (Krippendorff's alpha)",
    rows: classes,
    columns: used.map((m) => m.key),
    cells,
    low: -1,
    high: 1,
  };

  const names = new Map<string, string>();
  for (const r of records) names.set(r.annotator, r.annotatorName);
  const annotators = [...names.keys()].sort((a, b) => names.get(a)!.localeCompare(names.get(b)!));
  const answerOf = new Map<string, string>();
  for (const r of records)
    answerOf.set(`${r.annotator}|${r.itemUuid}`, `${r.taskType}:${categoryOf(r.answer, conceptOf, r.terms)}`);
  const itemsOf = new Map<string, string[]>();
  for (const r of records) itemsOf.set(r.annotator, [...(itemsOf.get(r.annotator) ?? []), r.itemUuid]);
  const pairCells: Heatmap['cells'] = [];
  for (const a of annotators) {
    for (const b of annotators) {
      if (a === b) {
        pairCells.push({ row: names.get(a)!, column: names.get(b)!, value: null, n: 0 });
        continue;
      }
      const shared = (itemsOf.get(a) ?? []).filter((item) => answerOf.has(`${b}|${item}`));
      const same = shared.filter((item) => answerOf.get(`${a}|${item}`) === answerOf.get(`${b}|${item}`)).length;
      pairCells.push({
        row: names.get(a)!,
        column: names.get(b)!,
        value: shared.length ? Math.round((same / shared.length) * 1e4) / 1e4 : null,
        n: shared.length,
      });
    }
  }
  const between: Heatmap = {
    title: 'Agreement between annotators (share of shared items answered alike)',
    rows: annotators.map((a) => names.get(a)!),
    columns: annotators.map((a) => names.get(a)!),
    cells: pairCells,
    low: 0,
    high: 1,
  };
  return [byClass, between];
}
