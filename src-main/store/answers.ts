/**
 * The tasks dealt to labelling seats and their answers (migration 0005): writing an answer with its
 * revision, what progress, export, agreement and merges read. The rules live in src-main/labels/.
 */
import { randomUUID } from 'node:crypto';
import type { TaskType } from '../../src-shared/schemas/labels.ts';
import type { AnswerRow, SessionAnswer, TaskRow } from './label-rows.ts';
import type { Db } from './open.ts';

const TASK = `id, uuid, seat_id AS seatId, item_id AS itemId, position, revealed`;
const ANSWER = `task_id AS taskId, annotator_id AS annotatorId, answer, correct, score, points, revision, origin, shown_at AS shownAt, answered_at AS answeredAt, revised_at AS revisedAt`;

export class AnswerRepository {
  constructor(readonly db: Db) {}

  insertTask(seatId: number, itemId: number, position: number, uuid: string = randomUUID()): void {
    this.db
      .prepare('INSERT INTO label_tasks (uuid, seat_id, item_id, position) VALUES (?, ?, ?, ?)')
      .run(uuid, seatId, itemId, position);
  }

  taskByUuid(uuid: string): TaskRow | undefined {
    return this.db.prepare(`SELECT ${TASK} FROM label_tasks WHERE uuid = ?`).get(uuid) as TaskRow | undefined;
  }

  tasks(seatId: number): TaskRow[] {
    return this.db
      .prepare(`SELECT ${TASK} FROM label_tasks WHERE seat_id = ? ORDER BY position`)
      .all(seatId) as TaskRow[];
  }

  nextOpenTask(seatId: number): TaskRow | undefined {
    return this.db
      .prepare(
        `SELECT ${TASK} FROM label_tasks t WHERE seat_id = ? AND NOT EXISTS (SELECT 1 FROM label_answers a WHERE a.task_id = t.id) ORDER BY position LIMIT 1`,
      )
      .get(seatId) as TaskRow | undefined;
  }

  setRevealed(taskId: number, step: number): void {
    this.db.prepare('UPDATE label_tasks SET revealed = max(revealed, ?) WHERE id = ?').run(step, taskId);
  }

  answer(taskId: number): AnswerRow | undefined {
    return this.db.prepare(`SELECT ${ANSWER} FROM label_answers WHERE task_id = ?`).get(taskId) as
      AnswerRow | undefined;
  }

  /** A seat's answers in the order they were first given. */
  seatAnswers(
    seatId: number,
  ): (AnswerRow & { taskUuid: string; position: number; taskType: TaskType; gold: string | null })[] {
    return this.db
      .prepare(
        `SELECT ${ANSWER.replace(/task_id AS/, 'a.task_id AS')}, t.uuid AS taskUuid, t.position, it.task_type AS taskType, it.gold
         FROM label_answers a JOIN label_tasks t ON t.id = a.task_id JOIN label_items it ON it.id = t.item_id
         WHERE t.seat_id = ? ORDER BY a.answered_at, a.task_id`,
      )
      .all(seatId) as (AnswerRow & { taskUuid: string; position: number; taskType: TaskType; gold: string | null })[];
  }

  /** What progress needs of a seat's answers, in the order they were given: gold correctness and points. */
  seatScores(seatId: number, exceptTaskId = -1): { correct: number | null; points: number; answeredAt: string }[] {
    return this.db
      .prepare(
        'SELECT a.correct, a.points, a.answered_at AS answeredAt FROM label_answers a JOIN label_tasks t ON t.id = a.task_id WHERE t.seat_id = ? AND a.task_id != ? ORDER BY a.answered_at, a.task_id',
      )
      .all(seatId, exceptTaskId) as { correct: number | null; points: number; answeredAt: string }[];
  }

  taskCount(seatId: number): number {
    return (this.db.prepare('SELECT count(*) AS n FROM label_tasks WHERE seat_id = ?').get(seatId) as { n: number }).n;
  }

  writeAnswer(row: Omit<AnswerRow, 'revision' | 'revisedAt'>): { revision: number } {
    const existing = this.answer(row.taskId);
    if (!existing) {
      this.db
        .prepare(
          `INSERT INTO label_answers (task_id, annotator_id, answer, correct, score, points, revision, origin, shown_at, answered_at) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?)`,
        )
        .run(
          row.taskId,
          row.annotatorId,
          row.answer,
          row.correct,
          row.score,
          row.points,
          row.origin,
          row.shownAt,
          row.answeredAt,
        );
      return { revision: 1 };
    }
    this.db
      .prepare(
        'UPDATE label_answers SET answer = ?, correct = ?, score = ?, points = ?, revision = revision + 1, revised_at = ? WHERE task_id = ?',
      )
      .run(row.answer, row.correct, row.score, row.points, row.answeredAt, row.taskId);
    return { revision: existing.revision + 1 };
  }

  /** An answer as it arrives from an annotator pack, with its own revision and times. */
  insertAnswer(row: AnswerRow): void {
    this.db
      .prepare(
        'INSERT INTO label_answers (task_id, annotator_id, answer, correct, score, points, revision, origin, shown_at, answered_at, revised_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(
        row.taskId,
        row.annotatorId,
        row.answer,
        row.correct,
        row.score,
        row.points,
        row.revision,
        row.origin,
        row.shownAt,
        row.answeredAt,
        row.revisedAt,
      );
  }

  /** A newer revision of an answer, from the pack it came from. */
  replaceAnswer(
    row: Pick<AnswerRow, 'taskId' | 'answer' | 'correct' | 'score' | 'points' | 'revision' | 'revisedAt'>,
  ): void {
    this.db
      .prepare(
        'UPDATE label_answers SET answer = ?, correct = ?, score = ?, points = ?, revision = ?, revised_at = ? WHERE task_id = ?',
      )
      .run(row.answer, row.correct, row.score, row.points, row.revision, row.revisedAt, row.taskId);
  }

  recordMerge(packUuid: string, sessionUuid: string, report: unknown): void {
    this.db
      .prepare('INSERT INTO label_merges (pack_uuid, session_uuid, merged_at, report) VALUES (?, ?, ?, ?)')
      .run(packUuid, sessionUuid, new Date().toISOString(), JSON.stringify(report));
  }

  /** Every answer of a session with what export, agreement and merge need. */
  sessionAnswers(sessionId: number): SessionAnswer[] {
    return this.db
      .prepare(
        `SELECT a.task_id AS taskId, t.uuid AS taskUuid, it.uuid AS itemUuid, it.id AS itemId, it.task_type AS taskType, it.image_id AS imageId,
                it.explanations, it.gold, an.uuid AS annotatorUuid, an.name AS annotatorName, an.role AS annotatorRole, s.uuid AS seatUuid,
                a.answer, a.correct, a.score, a.points, a.revision, a.origin, a.shown_at AS shownAt, a.answered_at AS answeredAt, a.revised_at AS revisedAt,
                img.true_class AS trueClass, img.predicted_class AS predictedClass
         FROM label_answers a JOIN label_tasks t ON t.id = a.task_id JOIN label_seats s ON s.id = t.seat_id
         JOIN label_items it ON it.id = t.item_id JOIN annotators an ON an.id = a.annotator_id
         LEFT JOIN label_images img ON img.session_id = it.session_id AND img.image_id = it.image_id
         WHERE it.session_id = ? ORDER BY a.answered_at, a.task_id`,
      )
      .all(sessionId) as SessionAnswer[];
  }
}
