/**
 * Labelling: the schemas of annotators, sessions, tasks, answers and agreement, shared by main, the
 * renderer, the crowd page and the CLI. The rating scales and the reveal steps are defined here once,
 * so the task views, the scoring and docs/LABELLING.md speak of the same thing.
 */
import { z } from 'zod';
import { OverlaySource } from './generative.ts';
import { ImageFilter } from './images.ts';

const id = z.number().int().positive();

export const AnnotatorRole = z.enum(['analyst', 'participant']);
export const Annotator = z.object({
  id,
  uuid: z.string(),
  name: z.string(),
  role: AnnotatorRole,
  createdAt: z.string(),
});

export const TASK_TYPES = ['rating', 'pairwise', 'concept', 'reveal'] as const;
export const TaskType = z.enum(TASK_TYPES);

/** The ordinal scales of a rating task: 1 (not at all) to 5 (completely). */
export const RATING_SCALES = [
  {
    key: 'justifies',
    question: 'The highlighted regions show what justifies the class',
    low: 'not at all',
    high: 'completely',
  },
  {
    key: 'predictable',
    question: 'This explanation helps me predict what the model decides',
    low: 'not at all',
    high: 'very much',
  },
] as const;
export type ScaleKey = (typeof RATING_SCALES)[number]['key'];

/** Deep Reveal: the share of the map's most salient pixels shown at each step (Bianchi et al. 2024). */
export const REVEAL_PERCENTS = [2, 4.5, 8, 13, 20, 30] as const;

/** Where the maps of a session come from: any overlay source (CAM, generative) or feature clusters. */
export const LabelSource = z.union([OverlaySource, z.object({ kind: z.literal('clusters') })]);
export type LabelSource = z.infer<typeof LabelSource>;
/** A source and how much of it there is: `count` maps on `images` images (of the filtered images, when a filter is given). */
export const LabelSourceChoice = z.object({
  label: z.string(),
  count: z.number().int(),
  images: z.number().int(),
  source: LabelSource,
  regions: z.boolean(),
});

const Score = z.number().int().min(1).max(5);
const Text = z.string().max(500);

export const Answer = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('rating'),
    scores: z.object({ justifies: Score, predictable: Score }),
    comment: z.string().max(2000).default(''),
  }),
  z.object({ type: z.literal('pairwise'), choice: z.enum(['a', 'b', 'neither']) }),
  z.object({ type: z.literal('concept'), text: Text, concepts: z.array(z.string().max(80)).max(20).default([]) }),
  z.object({
    type: z.literal('reveal'),
    guess: z.number().int().min(0).max(999).nullable(),
    resigned: z.boolean().default(false),
    text: Text.default(''),
  }),
]);
export type Answer = z.infer<typeof Answer>;
export type AnswerInput = z.input<typeof Answer>;

export const Gamification = z.enum(['participants', 'everyone', 'off']);

/** A session is built from exactly the images the filter matches (the grid's filters), the first `maxImages` of them by id. */
export const SessionRequest = ImageFilter.extend({
  name: z.string().min(1).max(200),
  modelId: id,
  /** At most this many images of the selection (the first by id). */
  maxImages: z.number().int().min(1).max(5000).default(40),
  sources: z.array(LabelSource).min(1).max(16),
  taskTypes: z.array(TaskType).min(1),
  /** Annotators per item. */
  overlap: z.number().int().min(1).max(100).default(2),
  /** Share of each annotator's tasks that are gold items. */
  goldShare: z.number().min(0).max(0.5).default(0.1),
  annotatorIds: z.array(id).max(500).default([]),
  /** Seats for participants who join over the network. */
  openSeats: z.number().int().min(0).max(500).default(0),
  concepts: z.array(z.string().min(1).max(80)).max(200).default([]),
  gamification: Gamification.default('participants'),
  seed: z.number().int().default(1),
});
export type SessionRequest = z.input<typeof SessionRequest>;

export const SessionState = z.enum(['open', 'paused', 'ended']);

export const SessionPreview = z.object({
  /** Images the filter matches, those with a map from a chosen source, and those the session uses. */
  images: z.number().int(),
  withMaps: z.number().int(),
  used: z.number().int(),
  items: z.object({
    rating: z.number().int(),
    pairwise: z.number().int(),
    concept: z.number().int(),
    reveal: z.number().int(),
  }),
  goldItems: z.number().int(),
  seats: z.number().int(),
  tasks: z.number().int(),
  /** Everything the request asks for that the session will not have, in words. */
  problems: z.array(z.string()),
});
export type SessionPreview = z.infer<typeof SessionPreview>;

export const SessionSummary = z.object({
  id,
  uuid: z.string(),
  name: z.string(),
  state: SessionState,
  createdAt: z.string(),
  modelName: z.string(),
  modelHash: z.string(),
  taskTypes: z.array(TaskType),
  overlap: z.number().int(),
  goldShare: z.number(),
  gamification: Gamification,
  items: z.number().int(),
  goldItems: z.number().int(),
  seats: z.number().int(),
  tasks: z.number().int(),
  answered: z.number().int(),
  crowd: z.object({ url: z.string(), code: z.string(), qrSvg: z.string() }).nullable(),
});

export const SeatProgress = z.object({
  id,
  index: z.number().int(),
  annotator: Annotator.nullable(),
  state: z.enum(['active', 'removed']),
  joined: z.boolean(),
  tasks: z.number().int(),
  answered: z.number().int(),
  goldAnswered: z.number().int(),
  goldCorrect: z.number().int(),
  /** Accuracy on gold items, null before the first. */
  goldAccuracy: z.number().nullable(),
  /** (correct + 1) / (gold answered + 2): starts at 0.5 and follows the gold accuracy. */
  reliability: z.number(),
  points: z.number(),
  level: z.number().int(),
  streak: z.number().int(),
  lastAnswerAt: z.string().nullable(),
  leaderboard: z.boolean(),
});

export const SessionDetail = SessionSummary.extend({
  seats: z.array(SeatProgress),
  concepts: z.array(z.string()),
  classes: z.array(z.string()),
});

const MapData = z.object({ width: z.number().int(), height: z.number().int(), map: z.array(z.number()) });

export const Progress = z.object({
  answered: z.number().int(),
  total: z.number().int(),
  gamified: z.boolean(),
  points: z.number(),
  level: z.number().int(),
  streak: z.number().int(),
  /** Points still needed for the next level. */
  toNextLevel: z.number(),
});

export const TaskView = z.object({
  taskId: z.string(),
  type: TaskType,
  position: z.number().int(),
  /** A practice task of the tutorial round: its answer is checked on the spot and never stored. */
  practice: z.boolean(),
  /** The image (null for reveal tasks, whose image comes one reveal step at a time). */
  image: z.object({ src: z.string(), width: z.number().int(), height: z.number().int() }).nullable(),
  /** One map, or two (left, right) for a pairwise choice. */
  maps: z.array(MapData),
  /** The class the explanation explains (hidden in the reveal game). */
  targetClass: z.string().nullable(),
  classes: z.array(z.string()),
  concepts: z.array(z.string()),
  /** The highest reveal step seen so far (reveal tasks), -1 before the first. */
  revealed: z.number().int(),
  answer: Answer.nullable(),
  /** Practice feedback: what a careful answer looks like. */
  hint: z.string().nullable(),
});
export type TaskView = z.infer<typeof TaskView>;

export const NextTask = z.object({
  state: z.enum(['task', 'done', 'paused', 'ended', 'removed']),
  task: TaskView.nullable(),
  progress: Progress,
});
export type NextTask = z.infer<typeof NextTask>;

export const AnswerAck = z.object({
  committed: z.literal(true),
  taskId: z.string(),
  revision: z.number().int(),
  /** Practice answers only: whether it matched the expected answer. */
  practiceCorrect: z.boolean().nullable(),
  next: NextTask,
});
export type AnswerAck = z.infer<typeof AnswerAck>;

export const HistoryEntry = z.object({
  taskId: z.string(),
  type: TaskType,
  position: z.number().int(),
  summary: z.string(),
  answeredAt: z.string(),
  revision: z.number().int(),
});
export type HistoryEntry = z.infer<typeof HistoryEntry>;

export const Leaderboard = z.array(
  z.object({ name: z.string(), points: z.number(), level: z.number().int(), you: z.boolean() }),
);

const Ci = z.object({ low: z.number().nullable(), high: z.number().nullable() });
export const AgreementRow = z.object({
  scope: z.enum(['session', 'method', 'class']),
  key: z.string(),
  measure: z.string(),
  level: z.enum(['nominal', 'ordinal', 'interval']),
  items: z.number().int(),
  annotators: z.number().int(),
  values: z.number().int(),
  alpha: z.number().nullable(),
  alphaInterval: Ci,
  kappa: z.number().nullable(),
  kappaInterval: Ci,
  percentAgreement: z.number().nullable(),
});
export const AgreementReport = z.object({
  sessionId: id,
  rows: z.array(AgreementRow),
  annotators: z.array(
    z.object({
      annotator: z.string(),
      measure: z.string(),
      alphaWithout: z.number().nullable(),
      delta: z.number().nullable(),
      values: z.number().int(),
    }),
  ),
});
export type AgreementReport = z.infer<typeof AgreementReport>;

/** Limits on what one row of an annotator pack may hold (the app never writes more). */
export const PACK_LIMITS = {
  answerBytes: 16 * 1024,
  nameLength: 60,
  textLength: 200,
  answers: 200_000,
  points: 10_000,
} as const;

const Uuid = z.string().min(1).max(64);
const Timestamp = z
  .string()
  .max(40)
  .refine((text) => !Number.isNaN(Date.parse(text)), 'is not a date and time');

/**
 * One answer as an annotator pack carries it, validated before anything of the pack is merged. The
 * pack's own judgement of the answer (correct, score, points) must be in range, but the master
 * judges every merged answer again from its own gold and truth.
 */
export const PackAnswerRow = z.object({
  taskUuid: Uuid,
  itemUuid: Uuid,
  taskType: TaskType,
  annotatorUuid: Uuid,
  annotatorName: z.string().trim().min(1).max(PACK_LIMITS.nameLength),
  annotatorRole: AnnotatorRole,
  answer: Answer,
  correct: z.union([z.literal(0), z.literal(1), z.null()]),
  score: z.number().min(0).max(1).nullable(),
  points: z.number().min(0).max(PACK_LIMITS.points),
  revision: z.number().int().min(1).max(1_000_000),
  origin: z.string().max(PACK_LIMITS.textLength),
  shownAt: Timestamp.nullable(),
  answeredAt: Timestamp,
  revisedAt: Timestamp.nullable(),
  revealed: z
    .number()
    .int()
    .min(-1)
    .max(REVEAL_PERCENTS.length - 1),
});
export type PackAnswerRow = z.infer<typeof PackAnswerRow>;

export const PackContents = z.object({
  packUuid: Uuid,
  sessionUuid: Uuid,
  sessionName: z.string().max(200),
  answers: z.array(PackAnswerRow),
});
export type PackContents = z.infer<typeof PackContents>;

export const MergeReport = z.object({
  pack: z.string(),
  session: z.string(),
  added: z.number().int(),
  updated: z.number().int(),
  unchanged: z.number().int(),
  conflicts: z.array(
    z.object({ taskId: z.string(), annotator: z.string(), item: z.string(), master: Answer, pack: Answer }),
  ),
  unknown: z.number().int(),
});
export type MergeReport = z.infer<typeof MergeReport>;

export type Annotator = z.infer<typeof Annotator>;
export type SessionSummary = z.infer<typeof SessionSummary>;
export type SessionDetail = z.infer<typeof SessionDetail>;
export type SeatProgress = z.infer<typeof SeatProgress>;
export type Progress = z.infer<typeof Progress>;
export type TaskType = z.infer<typeof TaskType>;
export type LabelSourceChoice = z.infer<typeof LabelSourceChoice>;
