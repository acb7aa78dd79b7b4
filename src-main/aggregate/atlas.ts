/**
 * The per-class concept atlas (Bianchi et al. 2024, global explanations). A label instance is one
 * concept in one answer; its weight is the paper's: (1 - 0.1 x reveal step) for a Deep Reveal answer,
 * a quarter of that when the guess was wrong, 0 when the player resigned, and 1 for a concept-label
 * task (nothing hidden, nothing guessed). A concept's score in a class is the sum of its weights, that
 * is frequency x mean weight; its share divides by the class's labelled answers, so layers and classes
 * with more answers do not look richer. Trends: the least-squares slope of the share over the layers
 * in model order (0 where a layer has no such label); the three steepest each way.
 */
import type { ClassAtlas, ConceptScore, Example } from '../../src-shared/schemas/aggregate.ts';
import type { LabelRecord } from './collect.ts';

export const EXAMPLES_PER_CONCEPT = 6;
export const TRENDS_EACH_WAY = 3;

export interface ConceptIndex {
  /** Concept id of each term. */
  of: Map<string, string>;
  name: Map<string, string>;
}

export function labelWeight(record: LabelRecord): number {
  return record.taskType === 'reveal' ? (record.revealScore ?? 0) : 1;
}

const round = (x: number) => Math.round(x * 1e4) / 1e4;

function scores(records: LabelRecord[], concepts: ConceptIndex): ConceptScore[] {
  const answers = records.length;
  const by = new Map<
    string,
    {
      score: number;
      labels: number;
      people: Set<string>;
      images: Set<number>;
      examples: (Example & { weight: number })[];
    }
  >();
  for (const r of records) {
    const weight = labelWeight(r);
    const seen = new Set<string>();
    for (const term of r.terms) {
      const id = concepts.of.get(term);
      if (id === undefined || seen.has(id)) continue;
      seen.add(id);
      let entry = by.get(id);
      if (!entry) by.set(id, (entry = { score: 0, labels: 0, people: new Set(), images: new Set(), examples: [] }));
      entry.score += weight;
      entry.labels++;
      entry.people.add(r.annotator);
      if (!entry.images.has(r.imageId))
        entry.examples.push({
          imageId: r.imageId,
          itemUuid: r.itemUuid,
          sessionId: r.sessionId,
          method: r.methods[0] ?? '',
          layer: r.layer,
          text: r.text,
          weight,
        });
      entry.images.add(r.imageId);
    }
  }
  return [...by]
    .map(([concept, e]) => ({
      concept,
      name: concepts.name.get(concept) ?? concept,
      score: round(e.score),
      share: answers ? round(e.score / answers) : 0,
      labels: e.labels,
      people: e.people.size,
      images: e.images.size,
      examples: e.examples
        .sort((a, b) => b.weight - a.weight || a.imageId - b.imageId)
        .slice(0, EXAMPLES_PER_CONCEPT)
        .map(({ weight: _weight, ...example }) => example),
    }))
    .sort((a, b) => b.score - a.score || b.people - a.people || a.name.localeCompare(b.name));
}

export function slope(ys: readonly number[]): number {
  const n = ys.length;
  if (n < 2) return 0;
  const mx = (n - 1) / 2;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  ys.forEach((y, x) => {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
  });
  return sxy / sxx;
}

/** Concept-bearing records (concept and reveal answers with at least one term) by class. */
export function buildAtlas(
  records: readonly LabelRecord[],
  concepts: ConceptIndex,
  layerDepth: (layer: string) => number,
): ClassAtlas[] {
  const labelled = records.filter((r) => (r.taskType === 'concept' || r.taskType === 'reveal') && r.terms.length > 0);
  const classes = new Map<number, LabelRecord[]>();
  for (const r of labelled) classes.set(r.classIndex, [...(classes.get(r.classIndex) ?? []), r]);
  return [...classes]
    .sort(([a], [b]) => a - b)
    .map(([classIndex, rows]) => {
      const layerNames = [...new Set(rows.map((r) => r.layer).filter((l) => l !== ''))].sort(
        (a, b) => layerDepth(a) - layerDepth(b) || a.localeCompare(b),
      );
      const layers = layerNames.map((layer, depth) => {
        const inLayer = rows.filter((r) => r.layer === layer);
        return { layer, depth, answers: inLayer.length, concepts: scores(inLayer, concepts) };
      });
      const overall = scores(rows, concepts);
      const trends: ClassAtlas['trends'] = [];
      if (layers.length >= 2) {
        const series = overall.map((c) => {
          const ys = layers.map((l) => l.concepts.find((x) => x.concept === c.concept)?.share ?? 0);
          return { concept: c.concept, name: c.name, slope: round(slope(ys)), first: ys[0]!, last: ys[ys.length - 1]! };
        });
        const rising = series
          .filter((s) => s.slope > 0)
          .sort((a, b) => b.slope - a.slope)
          .slice(0, TRENDS_EACH_WAY);
        const falling = series
          .filter((s) => s.slope < 0)
          .sort((a, b) => a.slope - b.slope)
          .slice(0, TRENDS_EACH_WAY);
        trends.push(
          ...rising.map((s) => ({ ...s, direction: 'rising' as const })),
          ...falling.map((s) => ({ ...s, direction: 'falling' as const })),
        );
      }
      return {
        classIndex,
        className: rows[0]!.className,
        answers: rows.length,
        images: new Set(rows.map((r) => r.imageId)).size,
        concepts: overall,
        layers,
        trends,
      };
    });
}
