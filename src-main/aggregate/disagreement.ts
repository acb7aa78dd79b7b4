/**
 * Where annotators disagree, and what to label next. An item's disagreement is 0 when every answer is
 * the same and 1 when they spread as far as they can: the "justifies" ratings' standard deviation over
 * 2 (the largest a 1-5 scale allows), and for choices, guesses and concepts the entropy of the answers
 * over its largest value, log(min(categories, answers)). "What to label next" ranks a session's items by
 * the entropy of their answers plus one pseudo-answer per category (a uniform prior), so an item with
 * no answers is the most uncertain and a few agreeing answers settle an item.
 */
import type { DisagreementItem, LabelNextItem } from '../../src-shared/schemas/aggregate.ts';
import type { Answer } from '../../src-shared/schemas/labels.ts';
import { krippendorffAlpha, type Rating } from '../labels/agreement.ts';
import type { LabelRecord } from './collect.ts';
import { normalisedEntropy, smoothedEntropy } from './stats.ts';

export const LIST_LIMIT = 200;

const round = (x: number) => Math.round(x * 1e4) / 1e4;

/** The nominal category of an answer (ratings: the "justifies" score). */
export function categoryOf(
  answer: Answer,
  concept: (term: string) => string | undefined,
  terms: readonly string[],
): string {
  switch (answer.type) {
    case 'rating':
      return String(answer.scores.justifies);
    case 'pairwise':
      return answer.choice;
    case 'reveal':
      return answer.resigned ? 'resigned' : String(answer.guess);
    case 'concept':
      return (terms.length ? concept(terms[0]!) : undefined) ?? 'none';
  }
}

function counts(values: readonly string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const v of values) m.set(v, (m.get(v) ?? 0) + 1);
  return m;
}

function std(values: readonly number[]): number {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / values.length);
}

const CATEGORIES: Record<string, number> = { rating: 5, pairwise: 3 };

export function itemDisagreement(
  records: readonly LabelRecord[],
  concept: (term: string) => string | undefined,
  label: (record: LabelRecord, category: string) => string,
): { disagreement: number; summary: string } {
  const type = records[0]!.taskType;
  const categories = records.map((r) => categoryOf(r.answer, concept, r.terms));
  const tally = [...counts(categories)].sort((a, b) => b[1] - a[1]);
  const summary = tally.map(([c, n]) => `${label(records[0]!, c)} ${n}`).join(', ');
  if (type === 'rating')
    return { disagreement: round(std(categories.map(Number)) / 2), summary: `justifies: ${summary}` };
  return {
    disagreement: round(
      normalisedEntropy(
        tally.map(([, n]) => n),
        CATEGORIES[type] ?? tally.length,
      ),
    ),
    summary,
  };
}

function groupBy<T>(values: readonly T[], key: (v: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const v of values) m.set(key(v), [...(m.get(key(v)) ?? []), v]);
  return m;
}

export function disagreements(
  records: readonly LabelRecord[],
  concept: (term: string) => string | undefined,
  label: (record: LabelRecord, category: string) => string,
): {
  items: DisagreementItem[];
  classes: { className: string; items: number; meanDisagreement: number | null; alpha: number | null }[];
} {
  const items: DisagreementItem[] = [];
  for (const [itemUuid, rows] of groupBy(records, (r) => r.itemUuid)) {
    if (rows.length < 2) continue;
    const { disagreement, summary } = itemDisagreement(rows, concept, label);
    const r = rows[0]!;
    items.push({
      itemUuid,
      sessionId: r.sessionId,
      imageId: r.imageId,
      className: r.className,
      taskType: r.taskType,
      method: r.methods.join(' vs '),
      layer: r.layer,
      answers: rows.length,
      disagreement,
      summary,
    });
  }
  items.sort(
    (a, b) => b.disagreement - a.disagreement || b.answers - a.answers || a.itemUuid.localeCompare(b.itemUuid),
  );
  const classes = [...groupBy(items, (i) => i.className)].map(([className, rows]) => {
    const ratings: Rating[] = records
      .filter((r) => r.className === className && r.answer.type === 'rating')
      .map((r) => ({
        item: r.itemUuid,
        annotator: r.annotator,
        value: (r.answer as { scores: { justifies: number } }).scores.justifies,
      }));
    return {
      className,
      items: rows.length,
      meanDisagreement: round(rows.reduce((a, r) => a + r.disagreement, 0) / rows.length),
      alpha: ((a) => (a === null ? null : round(a)))(krippendorffAlpha(ratings, 'ordinal')),
    };
  });
  classes.sort((a, b) => (b.meanDisagreement ?? 0) - (a.meanDisagreement ?? 0));
  return { items: items.slice(0, LIST_LIMIT), classes };
}

export interface SessionItem {
  itemUuid: string;
  imageId: number;
  taskType: string;
  method: string;
  className: string;
}

/** Every real item of a session, most uncertain first; items with fewer answers first among equals. */
export function labelNext(
  items: readonly SessionItem[],
  records: readonly LabelRecord[],
  concept: (term: string) => string | undefined,
): LabelNextItem[] {
  const byItem = groupBy(records, (r) => r.itemUuid);
  return items
    .map((item) => {
      const rows = byItem.get(item.itemUuid) ?? [];
      const tally = [...counts(rows.map((r) => categoryOf(r.answer, concept, r.terms))).values()];
      const categories = CATEGORIES[item.taskType] ?? tally.length + 1;
      return { ...item, answers: rows.length, uncertainty: round(smoothedEntropy(tally, categories)) };
    })
    .sort((a, b) => b.uncertainty - a.uncertainty || a.answers - b.answers || a.itemUuid.localeCompare(b.itemUuid));
}
