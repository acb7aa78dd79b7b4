/**
 * The aggregate as flat tables: the rows the CSV and JSON exports and the report's tables write.
 */
import type { Aggregate, AggregateTable } from '../../src-shared/schemas/aggregate.ts';
import { toCsv } from '../../src-shared/csv.ts';

/** Every aggregated table as flat rows, the shape the CSV and JSON exports write. */
export function tables(result: Aggregate): Record<AggregateTable, Record<string, unknown>[]> {
  const methods = result.methods.flatMap((m) =>
    m.rows.map((r) => ({
      scope: m.scope,
      method: r.method,
      human_rank: r.humanRank,
      ...Object.fromEntries(
        Object.entries(r.ratings).flatMap(([scale, v]) => [
          [`${scale}_n`, v.unweighted.n],
          [`${scale}_mean`, v.unweighted.mean],
          [`${scale}_low`, v.unweighted.low],
          [`${scale}_high`, v.unweighted.high],
          [`${scale}_weighted_mean`, v.weighted.mean],
          [`${scale}_weighted_low`, v.weighted.low],
          [`${scale}_weighted_high`, v.weighted.high],
        ]),
      ),
      comparisons: r.pairwise.comparisons,
      wins: r.pairwise.wins,
      losses: r.pairwise.losses,
      ties: r.pairwise.ties,
      win_rate: r.pairwise.winRate,
      weighted_win_rate: r.pairwise.weightedWinRate,
      bradley_terry: r.pairwise.bradleyTerry,
      bradley_terry_weighted: r.pairwise.bradleyTerryWeighted,
      metric_images: r.faithfulness.images,
      deletion: r.faithfulness.deletion,
      insertion: r.faithfulness.insertion,
      road: r.faithfulness.road,
      sanity: r.faithfulness.sanity,
    })),
  );
  return {
    concepts: result.concepts.map((c) => ({
      concept: c.id,
      name: c.name,
      auto_name: c.autoName,
      labels: c.labels,
      edited: c.edited,
      terms: c.terms.map((t) => `${t.term} (${t.count})`).join('; '),
    })),
    atlas: result.atlas.flatMap((a) =>
      a.concepts.map((c) => ({
        class: a.className,
        concept: c.name,
        score: c.score,
        share: c.share,
        labels: c.labels,
        people: c.people,
        images: c.images,
        example_images: c.examples.map((e) => e.imageId).join(' '),
      })),
    ),
    atlas_layers: result.atlas.flatMap((a) =>
      a.layers.flatMap((l) =>
        l.concepts.map((c) => ({
          class: a.className,
          layer: l.layer,
          depth: l.depth,
          answers: l.answers,
          concept: c.name,
          score: c.score,
          share: c.share,
          labels: c.labels,
          people: c.people,
          images: c.images,
        })),
      ),
    ),
    trends: result.atlas.flatMap((a) =>
      a.trends.map((t) => ({
        class: a.className,
        concept: t.name,
        direction: t.direction,
        slope: t.slope,
        first: t.first,
        last: t.last,
      })),
    ),
    methods,
    correlations: result.methods.flatMap((m) =>
      m.correlations.map((c) => ({
        scope: m.scope,
        metric: c.metric,
        weighted: c.weighted,
        methods: c.methods,
        spearman: c.spearman,
      })),
    ),
    agreement: result.agreement.flatMap((h) =>
      h.cells.map((c) => ({ heatmap: h.title, row: c.row, column: c.column, value: c.value, n: c.n })),
    ),
    disagreement: result.disagreement.items.map((i) => ({
      item: i.itemUuid,
      session: i.sessionId,
      image: i.imageId,
      class: i.className,
      task: i.taskType,
      method: i.method,
      layer: i.layer,
      answers: i.answers,
      disagreement: i.disagreement,
      answers_given: i.summary,
    })),
    disagreement_classes: result.disagreement.classes.map((c) => ({
      class: c.className,
      items: c.items,
      mean_disagreement: c.meanDisagreement,
      alpha: c.alpha,
    })),
  };
}

export function exportTable(result: Aggregate, table: AggregateTable, format: 'csv' | 'json'): string {
  const rows = tables(result)[table];
  if (format === 'json') return JSON.stringify(rows, null, 2);
  if (rows.length === 0) return '';
  return toCsv(rows);
}
