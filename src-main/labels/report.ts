/**
 * What a session owner reads: the session summaries with each seat's progress and reliability, the
 * agreement figures, and the answers as CSV or JSON Lines with their provenance. Gold items are left
 * out of agreement (they are decoys everyone judges) but kept, flagged, in the export.
 * Agreement measures: each rating scale at the ordinal level (and interval beside it); the pairwise
 * choice, the reveal guess and the first concept picked from the session's list at the nominal level.
 */
import { toCsv } from '../../src-shared/csv.ts';
import type { AgreementReport, SeatProgress, SessionDetail, SessionSummary } from '../../src-shared/schemas/labels.ts';
import type { Project } from '../store/project.ts';
import { parseAnswer, type SessionAnswer, type SessionRow } from '../store/labels.ts';
import { agreement, leaveOneOut, type Level, type Rating } from './agreement.ts';
import { levelOf, reliability, streakOf } from './scoring.ts';
import type { SessionConfig } from './sessions.ts';
import type { Provenance } from './sources.ts';
import { configOf } from './tasks.ts';

export type CrowdInfo = (sessionId: number) => SessionSummary['crowd'];

export function sessionSummary(project: Project, session: SessionRow, crowd: CrowdInfo): SessionSummary {
  const config = JSON.parse(session.config) as SessionConfig;
  return {
    id: session.id,
    uuid: session.uuid,
    name: session.name,
    state: session.state,
    createdAt: session.createdAt,
    modelName: config.modelName,
    modelHash: config.modelHash,
    taskTypes: config.request.taskTypes,
    overlap: config.request.overlap,
    goldShare: config.request.goldShare,
    gamification: config.request.gamification,
    ...project.labels.counts(session.id),
    crowd: crowd(session.id),
  };
}

export function sessionDetail(project: Project, session: SessionRow, crowd: CrowdInfo): SessionDetail {
  const config = JSON.parse(session.config) as SessionConfig;
  const seats = project.labels.seats(session.id).map((seat): SeatProgress => {
    const answers = project.answers.seatScores(seat.id);
    const gold = answers.filter((a) => a.correct !== null);
    const goldCorrect = gold.filter((a) => a.correct === 1).length;
    const points = Math.round(answers.reduce((sum, a) => sum + a.points, 0) * 10) / 10;
    return {
      id: seat.id,
      index: seat.index,
      annotator: seat.annotatorId === null ? null : project.labels.annotator(seat.annotatorId)!,
      state: seat.state,
      joined: seat.annotatorId !== null,
      tasks: project.answers.taskCount(seat.id),
      answered: answers.length,
      goldAnswered: gold.length,
      goldCorrect,
      goldAccuracy: gold.length ? goldCorrect / gold.length : null,
      reliability: reliability(goldCorrect, gold.length),
      points,
      level: levelOf(points).level,
      streak: streakOf(answers.map((a) => a.correct)),
      lastAnswerAt: answers.length ? answers[answers.length - 1]!.answeredAt : null,
      leaderboard: seat.leaderboard === 1,
    };
  });
  return {
    ...sessionSummary(project, session, crowd),
    seats,
    concepts: config.request.concepts,
    classes: config.classes,
  };
}

interface Measure {
  name: string;
  level: Level;
  value: (answer: ReturnType<typeof parseAnswer>) => number | string | null;
}

const MEASURES: Record<string, Measure[]> = {
  rating: [
    { name: 'rating:justifies', level: 'ordinal', value: (a) => (a.type === 'rating' ? a.scores.justifies : null) },
    { name: 'rating:justifies', level: 'interval', value: (a) => (a.type === 'rating' ? a.scores.justifies : null) },
    { name: 'rating:predictable', level: 'ordinal', value: (a) => (a.type === 'rating' ? a.scores.predictable : null) },
    {
      name: 'rating:predictable',
      level: 'interval',
      value: (a) => (a.type === 'rating' ? a.scores.predictable : null),
    },
  ],
  pairwise: [{ name: 'pairwise:choice', level: 'nominal', value: (a) => (a.type === 'pairwise' ? a.choice : null) }],
  reveal: [
    {
      name: 'reveal:guess',
      level: 'nominal',
      value: (a) => (a.type === 'reveal' ? (a.resigned ? 'resigned' : String(a.guess)) : null),
    },
  ],
  concept: [
    {
      name: 'concept:first-pick',
      level: 'nominal',
      value: (a) => (a.type === 'concept' ? (a.concepts[0]?.toLowerCase() ?? null) : null),
    },
  ],
};

function methodKey(answer: SessionAnswer): string {
  return (JSON.parse(answer.explanations) as Provenance[])
    .map((p) => (p.layer ? `${p.method}@${p.layer}` : p.method))
    .sort()
    .join(' vs ');
}

export function sessionAgreement(project: Project, sessionId: number, samples = 1000): AgreementReport {
  configOf(project, sessionId); // existence check with a clear error
  const answers = project.answers.sessionAnswers(sessionId).filter((a) => a.gold === null);
  const rows: AgreementReport['rows'] = [];
  const annotators: AgreementReport['annotators'] = [];
  const names = new Map(answers.map((a) => [a.annotatorUuid, a.annotatorName]));
  for (const [type, measures] of Object.entries(MEASURES)) {
    const ofType = answers.filter((a) => a.taskType === type);
    if (ofType.length === 0) continue;
    for (const measure of measures) {
      const ratingsOf = (list: SessionAnswer[]): Rating[] =>
        list.flatMap((a) => {
          const value = measure.value(parseAnswer(a.answer));
          return value === null ? [] : [{ item: a.itemUuid, annotator: a.annotatorUuid, value }];
        });
      const groups: [AgreementReport['rows'][number]['scope'], string, SessionAnswer[]][] = [
        ['session', 'all', ofType],
      ];
      for (const [key, list] of groupBy(ofType, methodKey)) groups.push(['method', key, list]);
      for (const [key, list] of groupBy(ofType, (a) => a.trueClass ?? a.predictedClass ?? '(unknown)'))
        groups.push(['class', key, list]);
      for (const [scope, key, list] of groups) {
        const ratings = ratingsOf(list);
        if (ratings.length === 0) continue;
        const figures = agreement(ratings, measure.level, {
          samples: scope === 'session' ? samples : Math.min(samples, 200),
          seed: 17,
        });
        rows.push({ scope, key, measure: measure.name, ...figures });
      }
      if (measure.level !== 'interval') {
        for (const row of leaveOneOut(ratingsOf(ofType), measure.level))
          annotators.push({ ...row, annotator: names.get(row.annotator) ?? row.annotator, measure: measure.name });
      }
    }
  }
  return { sessionId, rows, annotators };
}

function groupBy<T>(list: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of list) {
    const k = key(item);
    groups.set(k, [...(groups.get(k) ?? []), item]);
  }
  return groups;
}

/** One flat record per answer, with the provenance of what was judged. */
export function exportRecords(project: Project, sessionId: number): Record<string, unknown>[] {
  const config = configOf(project, sessionId);
  const session = project.labels.session(sessionId)!;
  return project.answers.sessionAnswers(sessionId).map((a) => {
    const answer = parseAnswer(a.answer);
    const provenance = JSON.parse(a.explanations) as Provenance[];
    const task = project.answers.taskByUuid(a.taskUuid)!;
    const join = (pick: (p: Provenance) => string | number | null) => provenance.map((p) => pick(p) ?? '').join(' | ');
    return {
      session: session.uuid,
      session_name: session.name,
      task: a.taskUuid,
      item: a.itemUuid,
      task_type: a.taskType,
      gold: a.gold !== null,
      annotator: a.annotatorUuid,
      annotator_name: a.annotatorName,
      annotator_role: a.annotatorRole,
      image_id: a.imageId,
      true_class: a.trueClass,
      predicted_class: a.predictedClass,
      model_hash: config.modelHash,
      model_name: config.modelName,
      method: join((p) => p.method),
      layer: join((p) => p.layer),
      parameters: join((p) => p.params),
      explained_class: join((p) => (p.targetClass === null ? null : (config.classes[p.targetClass] ?? p.targetClass))),
      source: join((p) => p.ref),
      justifies: answer.type === 'rating' ? answer.scores.justifies : null,
      predictable: answer.type === 'rating' ? answer.scores.predictable : null,
      comment: answer.type === 'rating' ? answer.comment : null,
      choice: answer.type === 'pairwise' ? answer.choice : null,
      text: answer.type === 'concept' || answer.type === 'reveal' ? answer.text : null,
      concepts: answer.type === 'concept' ? answer.concepts.join('; ') : null,
      guess: answer.type === 'reveal' ? answer.guess : null,
      guess_class: answer.type === 'reveal' && answer.guess !== null ? (config.classes[answer.guess] ?? null) : null,
      resigned: answer.type === 'reveal' ? answer.resigned : null,
      reveal_step: answer.type === 'reveal' ? task.revealed + 1 : null,
      correct: a.correct === null ? null : a.correct === 1,
      score: a.score,
      points: a.points,
      revision: a.revision,
      origin: a.origin,
      shown_at: a.shownAt,
      answered_at: a.answeredAt,
      revised_at: a.revisedAt,
    };
  });
}

export function exportAnswers(project: Project, sessionId: number, format: 'csv' | 'jsonl'): string {
  const records = exportRecords(project, sessionId);
  if (format === 'jsonl') return records.map((r) => JSON.stringify(r)).join('\n') + (records.length ? '\n' : '');
  const columns = records.length ? Object.keys(records[0]!) : Object.keys(emptyRecordColumns);
  return toCsv(records, columns);
}

const emptyRecordColumns = {
  session: 1,
  task: 1,
  item: 1,
  task_type: 1,
  annotator: 1,
  image_id: 1,
  model_hash: 1,
  method: 1,
  layer: 1,
  parameters: 1,
  answered_at: 1,
};
