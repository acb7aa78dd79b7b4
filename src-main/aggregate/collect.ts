/**
 * The labels an aggregation reads: every answer of the chosen sessions as one flat record with its
 * explanation's provenance, the class it explains, the annotator's reliability over those sessions
 * (Laplace-smoothed gold accuracy, labels/scoring.ts) and its normalised concept terms.
 * Gold rating and pairwise items show decoys, so they only count towards reliability; gold reveal
 * items show real maps and count like any other.
 */
import type { Answer, TaskType } from '../../src-shared/schemas/labels.ts';
import { parseAnswer, type SessionRow } from '../store/labels.ts';
import type { Project } from '../store/project.ts';
import { reliability } from '../labels/scoring.ts';
import type { SessionConfig } from '../labels/sessions.ts';
import type { Provenance } from '../labels/sources.ts';
import { classWords, termsOf } from './embedding/text.ts';

export interface LabelRecord {
  sessionId: number;
  itemUuid: string;
  taskType: TaskType;
  imageId: number;
  /** The explanation methods shown, one per map (two for a pairwise item: left, right). */
  methods: string[];
  kinds: string[];
  /** The layer of each map ('' where the explainer has none). */
  layers: string[];
  layer: string;
  modelHash: string;
  classIndex: number;
  className: string;
  annotator: string;
  annotatorName: string;
  reliability: number;
  answer: Answer;
  correct: boolean | null;
  /** Deep Reveal's score of the answer: (1 - 0.1 x step), a quarter when wrong, 0 resigned. */
  revealScore: number | null;
  terms: string[];
  text: string;
}

export interface Collected {
  sessions: { row: SessionRow; config: SessionConfig; answers: number }[];
  records: LabelRecord[];
  annotators: Map<string, { name: string; reliability: number; goldAnswered: number; goldCorrect: number }>;
}

export function answerText(answer: Answer): string {
  if (answer.type === 'concept') return [answer.text, ...answer.concepts].filter(Boolean).join(', ');
  if (answer.type === 'reveal') return answer.text;
  if (answer.type === 'rating') return answer.comment;
  return '';
}

export function collect(project: Project, sessions: SessionRow[]): Collected {
  const gold = new Map<string, { name: string; answered: number; correct: number }>();
  const out: Collected = { sessions: [], records: [], annotators: new Map() };
  const pending: {
    row: ReturnType<Project['answers']['sessionAnswers']>[number];
    config: SessionConfig;
    sessionId: number;
  }[] = [];
  for (const row of sessions) {
    const config = JSON.parse(row.config) as SessionConfig;
    const answers = project.answers.sessionAnswers(row.id);
    out.sessions.push({ row, config, answers: answers.length });
    for (const a of answers) {
      const g = gold.get(a.annotatorUuid) ?? { name: a.annotatorName, answered: 0, correct: 0 };
      if (a.correct !== null) {
        g.answered++;
        if (a.correct === 1) g.correct++;
      }
      gold.set(a.annotatorUuid, g);
      pending.push({ row: a, config, sessionId: row.id });
    }
  }
  for (const [uuid, g] of gold)
    out.annotators.set(uuid, {
      name: g.name,
      reliability: reliability(g.correct, g.answered),
      goldAnswered: g.answered,
      goldCorrect: g.correct,
    });
  const wordsOf = new Map<string, Set<string>>();
  for (const { row: a, config, sessionId } of pending) {
    if (a.gold !== null && (a.taskType === 'rating' || a.taskType === 'pairwise')) continue;
    const provenance = JSON.parse(a.explanations) as Provenance[];
    const first = provenance[0];
    const answer = parseAnswer(a.answer);
    const classIndex =
      first?.targetClass ?? (a.predictedClass !== null ? config.classes.indexOf(a.predictedClass) : -1);
    const key = config.classes.join('\u0000');
    let classes = wordsOf.get(key);
    if (!classes) wordsOf.set(key, (classes = classWords(config.classes)));
    const text = answerText(answer);
    const terms =
      answer.type === 'concept'
        ? termsOf(answer.text, answer.concepts, classes)
        : answer.type === 'reveal'
          ? termsOf(answer.text, [], classes)
          : [];
    out.records.push({
      sessionId,
      itemUuid: a.itemUuid,
      taskType: a.taskType,
      imageId: a.imageId,
      methods: provenance.map((p) => p.method),
      kinds: provenance.map((p) => p.kind),
      layers: provenance.map((p) => p.layer),
      layer: first?.layer ?? '',
      modelHash: first?.modelHash ?? config.modelHash,
      classIndex,
      className: config.classes[classIndex] ?? (classIndex >= 0 ? String(classIndex) : 'unknown'),
      annotator: a.annotatorUuid,
      annotatorName: a.annotatorName,
      reliability: out.annotators.get(a.annotatorUuid)!.reliability,
      answer,
      correct: a.correct === null ? null : a.correct === 1,
      revealScore: a.taskType === 'reveal' ? a.score : null,
      terms,
      text,
    });
  }
  return out;
}
