/**
 * Aggregating a project's labels into global explanations: concept clusters (with the analyst's
 * edits), the per-class concept atlas, the method ranking beside the faithfulness metrics, agreement
 * heatmaps and the disagreement list; the faithfulness job that fills the metrics the ranking reads;
 * the "what to label next" order of a session; and every table as CSV or JSON.
 */
import type {
  Aggregate,
  Concept,
  ConceptEdit,
  Faithfulness,
  LabelNextItem,
} from '../../src-shared/schemas/aggregate.ts';
import { ApiError } from '../../src-shared/errors.ts';
import type { InferencePool } from '../workers/inference-pool.ts';
import { verifiedModel } from '../models/identity.ts';
import type { SessionRow } from '../store/labels.ts';
import type { FaithfulnessRow } from '../store/aggregate.ts';
import type { Project } from '../store/project.ts';
import { buildAtlas, type ConceptIndex } from './atlas.ts';
import { candidateWords, centralWord, CONCEPT_CUT, replayEdits } from './embedding/cluster.ts';
import { collect, type LabelRecord } from './collect.ts';
import { disagreements, labelNext } from './disagreement.ts';
import { embed, findSentenceModel, WORDS_EMBEDDER, type EmbedderSpec } from './embed.ts';
import { rankMethods } from './ranking.ts';
import { agreementHeatmaps } from './heatmaps.ts';

/**
 * Aggregating a project's labels into global explanations: concept clusters (with the analyst's
 * edits), the per-class concept atlas, the method ranking beside the faithfulness metrics, agreement
 * heatmaps and the disagreement list; the faithfulness job that fills the metrics the ranking reads;
 * the "what to label next" order of a session; and every table as CSV or JSON.
 */

/**
 * Aggregating a project's labels into global explanations: concept clusters (with the analyst's
 * edits), the per-class concept atlas, the method ranking beside the faithfulness metrics, agreement
 * heatmaps and the disagreement list; the faithfulness job that fills the metrics the ranking reads;
 * the "what to label next" order of a session; and every table as CSV or JSON.
 */

/**
 * Aggregating a project's labels into global explanations: concept clusters (with the analyst's
 * edits), the per-class concept atlas, the method ranking beside the faithfulness metrics, agreement
 * heatmaps and the disagreement list; the faithfulness job that fills the metrics the ranking reads;
 * the "what to label next" order of a session; and every table as CSV or JSON.
 */

export interface AggregateContext {
  project: Project;
  pool: InferencePool;
  cacheDir: string;
}

export const RELIABILITY_RULE =
  'reliability = (gold answers right + 1) / (gold answers + 2), over the aggregated sessions';
export const SCORE_RULE =
  'score = sum over label instances of (1 - 0.1 x reveal step), / 4 when the guess was wrong, 0 when resigned; 1 for a concept-label task';

export function sessionsOf(project: Project, sessionIds?: number[]): SessionRow[] {
  if (!sessionIds || sessionIds.length === 0) return project.labels.sessions();
  return sessionIds.map((id) => {
    const row = project.labels.session(id);
    if (!row) throw new ApiError('session_not_found', `No labelling session with id ${id} in this project`);
    return row;
  });
}

/** Distinct terms with their label counts, most frequent first. */
function termCounts(records: readonly LabelRecord[]): { term: string; count: number }[] {
  const counts = new Map<string, number>();
  for (const r of records) for (const t of r.terms) counts.set(t, (counts.get(t) ?? 0) + 1);
  return [...counts]
    .map(([term, count]) => ({ term, count }))
    .sort((a, b) => b.count - a.count || a.term.localeCompare(b.term));
}

export interface ConceptModel {
  concepts: Concept[];
  index: ConceptIndex;
  embedder: Aggregate['settings']['embedder'];
  clustering: Aggregate['settings']['clustering'];
  edits: number;
  staleEdits: number;
}

/** The automatic concepts of counted terms, each named by its most central word, and how to name a new group. */
export async function groupConcepts(spec: EmbedderSpec, terms: { term: string; count: number }[], cacheDir: string) {
  const wordList = [...candidateWords(terms)].map(([w]) => w).filter((w) => !terms.some((t) => t.term === w));
  const embedded = await embed(spec, [...terms.map((t) => t.term), ...wordList], cacheDir, terms.length);
  const vectorOf = new Map<string, Float32Array>();
  [...terms.map((t) => t.term), ...wordList].forEach((text, i) => vectorOf.set(text, embedded.vectors[i]!));
  const countOf = new Map(terms.map((t) => [t.term, t.count]));
  const nameOf = (members: string[]) =>
    centralWord(
      members.map((term) => ({ term, count: countOf.get(term) ?? 1, vector: vectorOf.get(term)! })),
      (w) => vectorOf.get(w),
    );
  const groups = new Map<number, string[]>();
  (embedded.clustering?.assignment ?? []).forEach((cluster, i) =>
    groups.set(cluster, [...(groups.get(cluster) ?? []), terms[i]!.term]),
  );
  const automatic = [...groups.values()].map((members) => ({ terms: members, autoName: nameOf(members) }));
  return { automatic, nameOf, countOf, embedded };
}

export async function conceptModel(context: AggregateContext, records: readonly LabelRecord[]): Promise<ConceptModel> {
  const terms = termCounts(records);
  const spec = findSentenceModel(context.project.path) ?? WORDS_EMBEDDER;
  const { automatic, nameOf, countOf, embedded } = await groupConcepts(spec, terms, context.cacheDir);
  const edits = context.project.aggregate.edits();
  const { clusters, stale } = replayEdits(
    automatic,
    edits.map((e) => e.edit),
    nameOf,
  );
  const concepts: Concept[] = clusters
    .map((c) => {
      const members = c.terms
        .map((term) => ({ term, count: countOf.get(term) ?? 0 }))
        .sort((a, b) => b.count - a.count || a.term.localeCompare(b.term));
      return {
        id: [...c.terms].sort()[0]!,
        name: c.name,
        autoName: c.autoName,
        terms: members,
        labels: members.reduce((a, m) => a + m.count, 0),
        edited: c.edited,
      };
    })
    .sort((a, b) => b.labels - a.labels || a.name.localeCompare(b.name));
  const index: ConceptIndex = { of: new Map(), name: new Map() };
  for (const c of concepts) {
    index.name.set(c.id, c.name);
    for (const t of c.terms) index.of.set(t.term, c.id);
  }
  return {
    concepts,
    index,
    embedder: { kind: spec.kind, name: spec.name, hash: spec.hash, dimensions: embedded.dimensions },
    clustering: {
      linkage: 'complete',
      metric: 'cosine, corrected by WordNet',
      cut: CONCEPT_CUT,
      k: embedded.clustering?.k ?? 0,
      silhouette: embedded.clustering?.silhouette ?? null,
      terms: terms.length,
    },
    edits: edits.length,
    staleEdits: stale,
  };
}

async function layerOrder(context: AggregateContext, modelHashes: Set<string>): Promise<(layer: string) => number> {
  const order = new Map<string, number>();
  for (const model of context.project.models.list().filter((m) => modelHashes.has(m.fileHash))) {
    try {
      (await context.pool.call('camLayers', { model: await verifiedModel(model) })).forEach((layer, i) => {
        if (!order.has(layer.name)) order.set(layer.name, i);
      });
    } catch {
      // The model file is gone or changed: layers fall back to the order of their names.
    }
  }
  // Feature clusters name the layer's output tensor, CAM maps may name the node: try both spellings.
  return (layer) => order.get(layer) ?? order.get(layer.replace(/_output_0$/, '')) ?? 1e6;
}

function faithfulnessLookup(project: Project) {
  return (method: string, records: readonly LabelRecord[]): Faithfulness => {
    const keys = new Map<string, { modelHash: string; imageId: number; layer: string; targetClass: number }>();
    for (const r of records) {
      r.methods.forEach((m, i) => {
        if (m !== method || r.kinds[i] !== 'cam' || r.classIndex < 0) return;
        keys.set(`${r.modelHash}|${r.imageId}|${r.layers[i]}|${r.classIndex}`, {
          modelHash: r.modelHash,
          imageId: r.imageId,
          layer: r.layers[i]!,
          targetClass: r.classIndex,
        });
      });
    }
    const rows = [...keys.values()]
      .map((k) => project.aggregate.faithfulness({ ...k, method }))
      .filter((r): r is FaithfulnessRow => r !== undefined);
    const mean = (values: (number | null)[]) => {
      const v = values.filter((x): x is number => x !== null);
      return v.length ? Math.round((v.reduce((a, b) => a + b, 0) / v.length) * 1e4) / 1e4 : null;
    };
    return {
      images: rows.length,
      deletion: mean(rows.map((r) => r.deletion)),
      insertion: mean(rows.map((r) => r.insertion)),
      road: mean(rows.map((r) => r.road)),
      sanity: mean(rows.map((r) => r.sanity)),
    };
  };
}

function overview(project: Project, collected: ReturnType<typeof collect>): Aggregate['overview'] {
  const datasets = project.datasets.list();
  const models = project.models.list();
  return {
    name: project.name,
    datasets: datasets.map((d) => ({ name: d.name, images: d.images, classes: d.classes })),
    models: models.map((m) => {
      let total = 0;
      let correct = 0;
      for (const d of datasets) {
        const c = project.predictions.confusion(m.id, d.id, m.manifest.classes, d.classes);
        total += c.total;
        correct += c.correct;
      }
      return {
        name: m.name,
        hash: m.fileHash,
        classes: m.manifest.classes.length,
        accuracy: total ? Math.round((correct / total) * 1e4) / 1e4 : null,
      };
    }),
    labelledImages: new Set(collected.records.map((r) => r.imageId)).size,
    answers: collected.records.length,
    annotators: collected.annotators.size,
  };
}

const classLabel =
  (classes: readonly string[]) =>
  (record: LabelRecord, category: string): string => {
    if (record.taskType === 'reveal' && /^\d+$/.test(category)) return classes[Number(category)] ?? category;
    if (record.taskType === 'pairwise')
      return (
        (
          { a: `left (${record.methods[0]})`, b: `right (${record.methods[1]})`, neither: 'neither' } as Record<
            string,
            string
          >
        )[category] ?? category
      );
    return category;
  };

export async function aggregate(context: AggregateContext, sessionIds?: number[]): Promise<Aggregate> {
  const { project } = context;
  const sessions = sessionsOf(project, sessionIds);
  if (sessions.length === 0)
    throw new ApiError(
      'no_labels',
      'This project has no labelling sessions yet: create one in the Labelling panel (A) and collect some answers first',
    );
  const collected = collect(project, sessions);
  if (collected.records.length === 0)
    throw new ApiError(
      'no_labels',
      `The ${sessions.length === 1 ? 'session' : `${sessions.length} sessions`} chosen ${sessions.length === 1 ? 'has' : 'have'} no answers yet (gold decoys do not count)`,
    );
  const concepts = await conceptModel(context, collected.records);
  const depth = await layerOrder(context, new Set(collected.records.map((r) => r.modelHash)));
  const conceptOf = (term: string) => concepts.index.of.get(term);
  const classes = collected.sessions[0]!.config.classes;
  const conceptName = (record: LabelRecord, category: string) =>
    record.taskType === 'concept'
      ? (concepts.index.name.get(category) ?? category)
      : classLabel(classes)(record, category);
  return {
    settings: {
      generatedAt: new Date().toISOString(),
      sessions: collected.sessions.map(({ row, config, answers }) => ({
        id: row.id,
        uuid: row.uuid,
        name: row.name,
        modelName: config.modelName,
        modelHash: config.modelHash,
        answers,
      })),
      embedder: concepts.embedder,
      clustering: concepts.clustering,
      edits: concepts.edits,
      staleEdits: concepts.staleEdits,
      reliability: RELIABILITY_RULE,
      score: SCORE_RULE,
    },
    overview: overview(project, collected),
    concepts: concepts.concepts,
    atlas: buildAtlas(collected.records, concepts.index, depth),
    methods: rankMethods(collected.records, faithfulnessLookup(project)),
    agreement: agreementHeatmaps(collected.records, conceptOf),
    disagreement: disagreements(collected.records, conceptOf, conceptName),
  };
}

/** Checks that an edit names terms the labels have, then keeps it. */
export function addConceptEdit(project: Project, edit: ConceptEdit) {
  const known = new Set(termCounts(collect(project, project.labels.sessions()).records).map((t) => t.term));
  const named = edit.op === 'rename' ? [edit.term] : edit.terms;
  const missing = named.filter((t) => !known.has(t));
  if (missing.length)
    throw new ApiError(
      'concept_not_found',
      `No concept label ${missing.map((t) => JSON.stringify(t)).join(', ')} in this project's labels`,
    );
  return project.aggregate.addEdit(edit);
}

export async function labelNextFor(context: AggregateContext, sessionId: number): Promise<LabelNextItem[]> {
  const [session] = sessionsOf(context.project, [sessionId]);
  const collected = collect(context.project, [session!]);
  const concepts = await conceptModel(context, collected.records);
  const config = collected.sessions[0]!.config;
  const items = context.project.labels
    .items(sessionId)
    .filter((item) => item.gold === null)
    .map((item) => {
      const provenance = JSON.parse(item.explanations) as { method: string; targetClass: number | null }[];
      return {
        itemUuid: item.uuid,
        imageId: item.imageId,
        taskType: item.taskType,
        method: provenance.map((p) => p.method).join(' vs '),
        className: config.classes[provenance[0]?.targetClass ?? -1] ?? 'unknown',
      };
    });
  return labelNext(items, collected.records, (t) => concepts.index.of.get(t));
}
