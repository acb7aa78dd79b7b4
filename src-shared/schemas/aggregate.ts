/**
 * Global explanations: the schemas of what aggregating a project's labels gives (concepts, the per-class
 * concept atlas, the method ranking, agreement and disagreement), shared by main, the renderer, the
 * report and the CLI. docs/AGGREGATION.md explains every figure.
 */
import { z } from 'zod';

const id = z.number().int().positive();
const num = z.number().nullable();

export const AggregateRequest = z.object({
  /** Sessions to aggregate; all of the project's sessions when left out. */
  sessionIds: z.array(id).max(500).optional(),
});
export type AggregateRequest = z.input<typeof AggregateRequest>;

export const ConceptTerm = z.object({ term: z.string(), count: z.number().int() });
export const Concept = z.object({
  id: z.string(),
  name: z.string(),
  /** The most central word, before any rename. */
  autoName: z.string(),
  terms: z.array(ConceptTerm),
  /** Label instances (one typed phrase or one pick). */
  labels: z.number().int(),
  edited: z.boolean(),
});
export type Concept = z.infer<typeof Concept>;

export const ConceptEdit = z.discriminatedUnion('op', [
  z.object({ op: z.literal('rename'), term: z.string().min(1).max(80), name: z.string().trim().min(1).max(60) }),
  z.object({ op: z.literal('merge'), terms: z.array(z.string().min(1).max(80)).min(2).max(50) }),
  z.object({
    op: z.literal('split'),
    terms: z.array(z.string().min(1).max(80)).min(1).max(200),
    name: z.string().trim().max(60).optional(),
  }),
]);
export type ConceptEdit = z.infer<typeof ConceptEdit>;
export const StoredEdit = z.object({ id, edit: ConceptEdit, createdAt: z.string() });

export const Example = z.object({
  imageId: z.number().int(),
  itemUuid: z.string(),
  sessionId: z.number().int(),
  method: z.string(),
  layer: z.string(),
  text: z.string(),
});
export type Example = z.infer<typeof Example>;

export const ConceptScore = z.object({
  concept: z.string(),
  name: z.string(),
  /** The paper's score: the sum over label instances of (1 - 0.1 x reveal step), a quarter when the guess was wrong. */
  score: z.number(),
  /** score / answers with any label in this class (and layer): comparable across layers. */
  share: z.number(),
  labels: z.number().int(),
  people: z.number().int(),
  images: z.number().int(),
  examples: z.array(Example),
});
export type ConceptScore = z.infer<typeof ConceptScore>;

export const LayerConcepts = z.object({
  layer: z.string(),
  depth: z.number().int(),
  answers: z.number().int(),
  concepts: z.array(ConceptScore),
});
export const Trend = z.object({
  concept: z.string(),
  name: z.string(),
  slope: z.number(),
  first: z.number(),
  last: z.number(),
  direction: z.enum(['rising', 'falling']),
});
export const ClassAtlas = z.object({
  classIndex: z.number().int(),
  className: z.string(),
  answers: z.number().int(),
  images: z.number().int(),
  concepts: z.array(ConceptScore),
  layers: z.array(LayerConcepts),
  trends: z.array(Trend),
});
export type ClassAtlas = z.infer<typeof ClassAtlas>;

export const MeanCi = z.object({ n: z.number().int(), mean: num, low: num, high: num });
export type MeanCi = z.infer<typeof MeanCi>;
export const Faithfulness = z.object({
  images: z.number().int(),
  deletion: num,
  insertion: num,
  road: num,
  sanity: num,
});
export type Faithfulness = z.infer<typeof Faithfulness>;
export const MethodRow = z.object({
  method: z.string(),
  ratings: z.record(z.string(), z.object({ unweighted: MeanCi, weighted: MeanCi })),
  pairwise: z.object({
    comparisons: z.number().int(),
    wins: z.number(),
    losses: z.number(),
    ties: z.number(),
    winRate: num,
    weightedWinRate: num,
    /** Bradley-Terry log-strength, centred on the methods compared (0 = average). */
    bradleyTerry: num,
    bradleyTerryWeighted: num,
  }),
  faithfulness: Faithfulness,
  /** Rank by the human figures (weighted mean "justifies" rating, Bradley-Terry when there are no ratings); 1 is best. */
  humanRank: z.number().nullable(),
});
export type MethodRow = z.infer<typeof MethodRow>;
export const Correlation = z.object({
  metric: z.string(),
  methods: z.number().int(),
  spearman: num,
  weighted: z.boolean(),
});
export const MethodRanking = z.object({
  scope: z.string(),
  classIndex: z.number().int().nullable(),
  rows: z.array(MethodRow),
  correlations: z.array(Correlation),
});
export type MethodRanking = z.infer<typeof MethodRanking>;

export const HeatCell = z.object({ row: z.string(), column: z.string(), value: num, n: z.number().int() });
export const Heatmap = z.object({
  title: z.string(),
  rows: z.array(z.string()),
  columns: z.array(z.string()),
  cells: z.array(HeatCell),
  low: z.number(),
  high: z.number(),
});
export type Heatmap = z.infer<typeof Heatmap>;

export const DisagreementItem = z.object({
  itemUuid: z.string(),
  sessionId: z.number().int(),
  imageId: z.number().int(),
  className: z.string(),
  taskType: z.string(),
  method: z.string(),
  layer: z.string(),
  answers: z.number().int(),
  /** Normalised entropy of the answers, 0 (all agree) to 1 (spread evenly). */
  disagreement: z.number(),
  summary: z.string(),
});
export type DisagreementItem = z.infer<typeof DisagreementItem>;
export const ClassDisagreement = z.object({
  className: z.string(),
  items: z.number().int(),
  meanDisagreement: num,
  alpha: num,
});

export const LabelNextItem = z.object({
  itemUuid: z.string(),
  imageId: z.number().int(),
  taskType: z.string(),
  method: z.string(),
  className: z.string(),
  answers: z.number().int(),
  uncertainty: z.number(),
});
export type LabelNextItem = z.infer<typeof LabelNextItem>;

export const AggregateSettings = z.object({
  generatedAt: z.string(),
  sessions: z.array(
    z.object({
      id,
      uuid: z.string(),
      name: z.string(),
      modelName: z.string(),
      modelHash: z.string(),
      answers: z.number().int(),
    }),
  ),
  embedder: z.object({
    kind: z.enum(['words', 'sentence']),
    name: z.string(),
    hash: z.string(),
    dimensions: z.number().int(),
  }),
  clustering: z.object({
    linkage: z.literal('complete'),
    metric: z.literal('cosine, corrected by WordNet'),
    /** No two terms of a concept further apart than this. */
    cut: z.number(),
    k: z.number().int(),
    silhouette: num,
    terms: z.number().int(),
  }),
  edits: z.number().int(),
  staleEdits: z.number().int(),
  reliability: z.string(),
  score: z.string(),
});

export const ProjectOverview = z.object({
  name: z.string(),
  datasets: z.array(z.object({ name: z.string(), images: z.number().int(), classes: z.array(z.string()) })),
  models: z.array(z.object({ name: z.string(), hash: z.string(), classes: z.number().int(), accuracy: num })),
  labelledImages: z.number().int(),
  answers: z.number().int(),
  annotators: z.number().int(),
});

export const Aggregate = z.object({
  settings: AggregateSettings,
  overview: ProjectOverview,
  concepts: z.array(Concept),
  atlas: z.array(ClassAtlas),
  methods: z.array(MethodRanking),
  agreement: z.array(Heatmap),
  disagreement: z.object({ items: z.array(DisagreementItem), classes: z.array(ClassDisagreement) }),
});
export type Aggregate = z.infer<typeof Aggregate>;

/** The tables an export writes, one CSV (or one JSON key) each. */
export const AGGREGATE_TABLES = [
  'concepts',
  'atlas',
  'atlas_layers',
  'trends',
  'methods',
  'correlations',
  'agreement',
  'disagreement',
  'disagreement_classes',
] as const;
export const AggregateTable = z.enum(AGGREGATE_TABLES);
export type AggregateTable = z.infer<typeof AggregateTable>;

/** A vocabulary to group as the app groups label terms (`xaiws concepts --terms`). */
export const GroupTermsRequest = z.object({ terms: z.array(z.string().max(200)).min(1).max(5000) });
export const GroupedTerms = z.object({
  concepts: z.array(z.object({ name: z.string(), terms: z.array(z.string()) })),
  /** Lines that left no term once stop words were dropped. */
  dropped: z.array(z.string()),
  embedder: z.string(),
});
