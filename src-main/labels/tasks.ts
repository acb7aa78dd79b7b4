/**
 * A seat's work in a session: the next task, answering, reopening, history, the reveal game's steps,
 * the tutorial round and the leaderboard. Used alike by the local app (an analyst labelling at the
 * workstation) and the crowd host (participants over the network); callers only differ in how an
 * image is addressed (`imageSrc`). Policy:
 * - An answer is committed (its own transaction, synchronous=FULL) before the call returns, and the
 *   reply carries the next task, so a client never shows a task before the previous answer is on disk.
 * - A task is answered only by its seat, only while the session is open; the answer's type must be the
 *   task's. Reopening and changing an answer bumps its revision.
 * - Gold answers and true classes never leave main; the reveal game's image is masked here, so the
 *   client never holds more of it than the step shown, and the step counted is the highest one served
 *   before the first answer. A revised reveal answer never scores more than the answer it revises, nor
 *   turns a wrong gold guess right: looking at more of the image after answering buys nothing.
 * - Reveal steps are served only while answering is possible (an open session, an active seat).
 */
import { ApiError } from '../../src-shared/errors.ts';
import {
  Answer,
  type AnswerAck,
  type AnswerInput,
  type HistoryEntry,
  type NextTask,
  type Progress,
  type TaskView,
} from '../../src-shared/schemas/labels.ts';
import type { Project } from '../store/project.ts';
import { parseAnswer, type ItemRow, type SeatRow, type TaskRow } from '../store/labels.ts';
import type { SessionConfig } from './sessions.ts';
import {
  goldCorrect,
  levelOf,
  pointsFor,
  reliability,
  revealScore,
  streakOf,
  summarise,
  type GoldAnswer,
} from './scoring.ts';
import type { Provenance } from './sources.ts';

/**
 * A seat's work in a session: the next task, answering, reopening, history, the reveal game's steps,
 * the tutorial round and the leaderboard. Used alike by the local app (an analyst labelling at the
 * workstation) and the crowd host (participants over the network); callers only differ in how an
 * image is addressed (`imageSrc`). Policy:
 * - An answer is committed (its own transaction, synchronous=FULL) before the call returns, and the
 *   reply carries the next task, so a client never shows a task before the previous answer is on disk.
 * - A task is answered only by its seat, only while the session is open; the answer's type must be the
 *   task's. Reopening and changing an answer bumps its revision.
 * - Gold answers and true classes never leave main; the reveal game's image is masked here, so the
 *   client never holds more of it than the step shown, and the step counted is the highest one served
 *   before the first answer. A revised reveal answer never scores more than the answer it revises, nor
 *   turns a wrong gold guess right: looking at more of the image after answering buys nothing.
 * - Reveal steps are served only while answering is possible (an open session, an active seat).
 */

export type ImageSrc = (image: { opaque: string; mime: string; sessionId: number; imageId: number }) => string;

export const PRACTICE = 'practice:';

export function configOf(project: Project, sessionId: number): SessionConfig {
  const session = project.labels.session(sessionId);
  if (!session) throw new ApiError('session_not_found', `No labelling session with id ${sessionId} in this project`);
  return JSON.parse(session.config) as SessionConfig;
}

function gamified(project: Project, seat: SeatRow): boolean {
  const { request } = configOf(project, seat.sessionId);
  if (request.gamification === 'everyone') return true;
  if (request.gamification === 'off') return false;
  return seat.annotatorId !== null && project.labels.annotator(seat.annotatorId)?.role === 'participant';
}

/**
 * Practice items of the tutorial round: one per task type, a gold item where there is one. A practice
 * task that shows an image in full never uses an image the seat will play in the reveal game.
 */
export function practiceItems(project: Project, seat: SeatRow): ItemRow[] {
  const { request } = configOf(project, seat.sessionId);
  if (seat.tutorialDone >= request.taskTypes.length) return []; // the round is over (at most one per type)
  const own = project.answers.tasks(seat.id).map((t) => project.labels.item(t.itemId)!);
  const played = new Set(own.filter((item) => item.taskType === 'reveal').map((item) => item.imageId));
  return request.taskTypes.flatMap((type) => {
    const ofType = own.filter((item) => item.taskType === type && (type === 'reveal' || !played.has(item.imageId)));
    const pick = ofType.find((item) => item.gold !== null) ?? ofType[0];
    return pick ? [pick] : [];
  });
}

export function progressOf(project: Project, seat: SeatRow): Progress {
  const answers = project.answers.seatScores(seat.id);
  const points = Math.round(answers.reduce((sum, a) => sum + a.points, 0) * 10) / 10;
  const { level, toNextLevel } = levelOf(points);
  return {
    answered: answers.length,
    total: project.answers.taskCount(seat.id),
    gamified: gamified(project, seat),
    points,
    level,
    streak: streakOf(answers.map((a) => a.correct)),
    toNextLevel,
  };
}

function seatCheck(project: Project, seat: SeatRow): NextTask['state'] | null {
  const session = project.labels.session(seat.sessionId)!;
  if (seat.state === 'removed') return 'removed';
  if (session.state !== 'open') return session.state;
  return null;
}

function view(
  project: Project,
  seat: SeatRow,
  item: ItemRow,
  task: { uuid: string; position: number; revealed: number },
  imageSrc: ImageSrc,
  practice: boolean,
): TaskView {
  const config = configOf(project, seat.sessionId);
  const image = project.labels.image(seat.sessionId, item.imageId);
  if (!image)
    throw new ApiError('internal', `Session ${seat.sessionId} lacks the image ${item.imageId} of item ${item.uuid}`);
  const provenance = JSON.parse(item.explanations) as Provenance[];
  const target = provenance[0]?.targetClass;
  const targetClass =
    item.taskType === 'reveal'
      ? null
      : target !== null && target !== undefined
        ? (config.classes[target] ?? String(target))
        : image.predictedClass;
  const answerRow = practice ? undefined : project.answers.answer(project.answers.taskByUuid(task.uuid)!.id);
  const gold = item.gold === null ? null : (JSON.parse(item.gold) as GoldAnswer);
  return {
    taskId: task.uuid,
    type: item.taskType,
    position: task.position,
    practice,
    image:
      item.taskType === 'reveal'
        ? null
        : {
            src: imageSrc({ opaque: image.opaque, mime: image.mime, sessionId: seat.sessionId, imageId: item.imageId }),
            width: image.width,
            height: image.height,
          },
    maps: project.labels
      .itemMaps(item.id)
      .map((m) => ({ width: m.width, height: m.height, map: Array.from(m.map, (v) => Math.round(v * 1000) / 1000) })),
    targetClass,
    classes: config.classes,
    concepts: config.request.concepts,
    revealed: task.revealed,
    answer: answerRow ? parseAnswer(answerRow.answer) : null,
    hint: practice ? (gold?.reason ?? practiceHint(item.taskType)) : null,
  };
}

function practiceHint(type: ItemRow['taskType']): string {
  switch (type) {
    case 'concept':
      return 'Name what the highlighted region shows in a few words, e.g. "collar" or "heel".';
    case 'reveal':
      return 'Reveal step by step (Space) and guess the class as early as you can; the earlier, the more points.';
    case 'pairwise':
      return 'Pick the map that better shows why the model chose the class.';
    default:
      return 'Rate how well the highlighted regions show what justifies the class.';
  }
}

export function next(project: Project, seat: SeatRow, imageSrc: ImageSrc): NextTask {
  const progress = progressOf(project, seat);
  const blocked = seatCheck(project, seat);
  if (blocked) return { state: blocked, task: null, progress };
  if (progress.gamified) {
    const practice = practiceItems(project, seat);
    if (seat.tutorialDone < practice.length) {
      const item = practice[seat.tutorialDone]!;
      return {
        state: 'task',
        task: view(
          project,
          seat,
          item,
          { uuid: `${PRACTICE}${item.uuid}`, position: seat.tutorialDone + 1, revealed: -1 },
          imageSrc,
          true,
        ),
        progress,
      };
    }
  }
  const task = project.answers.nextOpenTask(seat.id);
  if (!task) return { state: 'done', task: null, progress };
  return {
    state: 'task',
    task: view(project, seat, project.labels.item(task.itemId)!, task, imageSrc, false),
    progress,
  };
}

export function ownTask(project: Project, seat: SeatRow, taskId: string): TaskRow {
  const task = project.answers.taskByUuid(taskId);
  // Another seat's or another session's task reads exactly like a missing one.
  if (!task || task.seatId !== seat.id)
    throw new ApiError(
      'task_not_found',
      `No task ${JSON.stringify(taskId.slice(0, 80))} for this annotator in this session`,
    );
  return task;
}

export function reopen(project: Project, seat: SeatRow, taskId: string, imageSrc: ImageSrc): TaskView {
  const task = ownTask(project, seat, taskId);
  return view(project, seat, project.labels.item(task.itemId)!, task, imageSrc, false);
}

function parseInput(input: AnswerInput, type: ItemRow['taskType']): Answer {
  const parsed = Answer.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ApiError('invalid_request', `answer.${issue.path.join('.')}: ${issue.message}`);
  }
  if (parsed.data.type !== type)
    throw new ApiError('invalid_request', `This is a ${type} task; the answer is a ${parsed.data.type} answer`);
  return parsed.data;
}

function classIndex(config: SessionConfig, name: string | null): number | null {
  const index = name === null ? -1 : config.classes.indexOf(name);
  return index < 0 ? null : index;
}

/** Throws the reason a seat cannot answer (or reveal) now: a removed seat, a paused or ended session. */
export function requireAnswering(project: Project, seat: SeatRow, what: string): void {
  const blocked = seatCheck(project, seat);
  if (blocked === 'removed')
    throw new ApiError('seat_removed', `The session owner removed this seat; ${what} no longer taken`);
  if (blocked === 'paused')
    throw new ApiError('session_paused', `The session is paused; ${what} not taken now. Try again when it resumes.`);
  if (blocked === 'ended') throw new ApiError('session_ended', `The session has ended; ${what} no longer taken`);
}

export function answer(
  project: Project,
  seat: SeatRow,
  taskId: string,
  input: AnswerInput,
  origin: string,
  imageSrc: ImageSrc,
  shownAt: string | null = null,
): AnswerAck {
  requireAnswering(project, seat, 'answers are');
  const config = configOf(project, seat.sessionId);

  if (taskId.startsWith(PRACTICE)) {
    const practice = practiceItems(project, seat);
    const item = practice[seat.tutorialDone];
    if (!item || taskId !== `${PRACTICE}${item.uuid}`)
      throw new ApiError('task_not_found', `No practice task ${JSON.stringify(taskId.slice(0, 80))} now`);
    const given = parseInput(input, item.taskType);
    const gold = item.gold === null ? null : (JSON.parse(item.gold) as GoldAnswer);
    project.labels.updateSeat(seat.id, { tutorialDone: seat.tutorialDone + 1 });
    const updated = project.labels.seat(seat.id)!;
    return {
      committed: true,
      taskId,
      revision: 0,
      practiceCorrect: gold ? goldCorrect(gold, given) : true,
      next: next(project, updated, imageSrc),
    };
  }

  const task = ownTask(project, seat, taskId);
  const item = project.labels.item(task.itemId)!;
  const given = parseInput(input, item.taskType);
  if (given.type === 'reveal' && !given.resigned && task.revealed < 0)
    throw new ApiError('invalid_request', 'Reveal at least one step before guessing');
  const { revision } = project.transaction(() => {
    const judged = judge(project, seat, task, item, given);
    return project.answers.writeAnswer({
      taskId: task.id,
      annotatorId: seat.annotatorId!,
      answer: JSON.stringify(given),
      ...judged,
      origin,
      shownAt,
      answeredAt: new Date().toISOString(),
    });
  })();
  return {
    committed: true,
    taskId,
    revision,
    practiceCorrect: null,
    next: next(project, project.labels.seat(seat.id)!, imageSrc),
  };
}

/**
 * How the session judges an answer to one of a seat's tasks: right or wrong on a gold item, the reveal
 * game's score, and the points, from this project's own gold, truth and the seat's earlier answers
 * (never from what a client or a pack claims). A revision is judged no better than what it revises.
 */
export function judge(
  project: Project,
  seat: SeatRow,
  task: TaskRow,
  item: ItemRow,
  given: Answer,
): { correct: number | null; score: number | null; points: number } {
  const config = configOf(project, seat.sessionId);
  const gold = item.gold === null ? null : (JSON.parse(item.gold) as GoldAnswer);
  let correct = gold ? (goldCorrect(gold, given) ? 1 : 0) : null;
  let score: number | null = null;
  if (given.type === 'reveal') {
    const image = project.labels.image(seat.sessionId, item.imageId)!;
    const truth = classIndex(config, image.trueClass) ?? classIndex(config, image.predictedClass);
    score = revealScore(task.revealed, truth !== null && given.guess === truth, given.resigned);
    const earlier = project.answers.answer(task.id);
    if (earlier) {
      if (earlier.score !== null) score = Math.min(score, earlier.score);
      if (earlier.correct !== null && correct !== null) correct = Math.min(correct, earlier.correct);
    }
  }
  const earlier = project.answers.seatScores(seat.id, task.id);
  const goldDone = earlier.filter((a) => a.correct !== null);
  const weight = reliability(goldDone.filter((a) => a.correct === 1).length, goldDone.length);
  const streak = correct === 0 ? 0 : streakOf(earlier.map((a) => a.correct)) + 1;
  return { correct, score, points: pointsFor(weight, streak, score) };
}

export function history(project: Project, seat: SeatRow, limit = 10): HistoryEntry[] {
  const config = configOf(project, seat.sessionId);
  return project.answers
    .seatAnswers(seat.id)
    .slice(-limit)
    .reverse()
    .map((a) => ({
      taskId: a.taskUuid,
      type: a.taskType,
      position: a.position,
      summary: summarise(parseAnswer(a.answer), config.classes),
      answeredAt: a.revisedAt ?? a.answeredAt,
      revision: a.revision,
    }));
}

export function leaderboard(
  project: Project,
  seat: SeatRow,
): { name: string; points: number; level: number; you: boolean }[] {
  return project.labels
    .seats(seat.sessionId)
    .filter((s) => s.annotatorId !== null && s.state === 'active' && (s.leaderboard === 1 || s.id === seat.id))
    .map((s) => {
      const p = progressOf(project, s);
      return {
        name: s.leaderboard === 1 ? project.labels.annotator(s.annotatorId!)!.name : 'you (hidden)',
        points: p.points,
        level: p.level,
        you: s.id === seat.id,
      };
    })
    .sort((a, b) => b.points - a.points)
    .slice(0, 20);
}
