/**
 * Labelling tables (migration 0005): the SQL of annotators, sessions, their images, items and seats
 * (tasks and answers: answers.ts).
 * The rules (dealing, scoring, who may see what) live in src-main/labels/.
 */
import { randomUUID } from 'node:crypto';
import { deserialize, serialize } from 'node:v8';
import type { Answer, Annotator, TaskType } from '../../src-shared/schemas/labels.ts';
import type { Db } from './open.ts';
import type { ImageRow, ItemRow, SeatRow, SessionRow, StoredMap } from './label-rows.ts';

export type {
  AnswerRow,
  ImageRow,
  ItemRow,
  SeatRow,
  SessionAnswer,
  SessionRow,
  StoredMap,
  TaskRow,
} from './label-rows.ts';

const ANNOTATOR = `id, uuid, name, role, created_at AS createdAt`;
const SESSION = `id, uuid, name, config, state, created_at AS createdAt`;
const SEAT = `id, uuid, session_id AS sessionId, seat_index AS "index", annotator_id AS annotatorId, state, tutorial_done AS tutorialDone, leaderboard`;
const ITEM = `id, uuid, session_id AS sessionId, task_type AS taskType, image_id AS imageId, explanations, gold`;

export class LabelRepository {
  constructor(readonly db: Db) {}

  annotators(): Annotator[] {
    return this.db.prepare(`SELECT ${ANNOTATOR} FROM annotators ORDER BY name, id`).all() as Annotator[];
  }

  annotator(id: number): Annotator | undefined {
    return this.db.prepare(`SELECT ${ANNOTATOR} FROM annotators WHERE id = ?`).get(id) as Annotator | undefined;
  }

  annotatorByUuid(uuid: string): Annotator | undefined {
    return this.db.prepare(`SELECT ${ANNOTATOR} FROM annotators WHERE uuid = ?`).get(uuid) as Annotator | undefined;
  }

  addAnnotator(
    name: string,
    role: Annotator['role'],
    uuid: string = randomUUID(),
    createdAt = new Date().toISOString(),
  ): Annotator {
    const id = Number(
      this.db
        .prepare('INSERT INTO annotators (uuid, name, role, created_at) VALUES (?, ?, ?, ?)')
        .run(uuid, name, role, createdAt).lastInsertRowid,
    );
    return this.annotator(id)!;
  }

  sessions(): SessionRow[] {
    return this.db.prepare(`SELECT ${SESSION} FROM label_sessions ORDER BY id DESC`).all() as SessionRow[];
  }

  session(id: number): SessionRow | undefined {
    return this.db.prepare(`SELECT ${SESSION} FROM label_sessions WHERE id = ?`).get(id) as SessionRow | undefined;
  }

  sessionByUuid(uuid: string): SessionRow | undefined {
    return this.db.prepare(`SELECT ${SESSION} FROM label_sessions WHERE uuid = ?`).get(uuid) as SessionRow | undefined;
  }

  insertSession(
    name: string,
    config: unknown,
    uuid: string = randomUUID(),
    state = 'open',
    createdAt = new Date().toISOString(),
  ): number {
    return Number(
      this.db
        .prepare('INSERT INTO label_sessions (uuid, name, config, state, created_at) VALUES (?, ?, ?, ?, ?)')
        .run(uuid, name, JSON.stringify(config), state, createdAt).lastInsertRowid,
    );
  }

  setState(sessionId: number, state: SessionRow['state']): void {
    this.db.prepare('UPDATE label_sessions SET state = ? WHERE id = ?').run(state, sessionId);
  }

  insertImage(sessionId: number, image: ImageRow & { bytes: Buffer }): void {
    this.db
      .prepare(
        'INSERT INTO label_images (session_id, image_id, opaque, mime, bytes, width, height, true_class, predicted_class, confidence) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(
        sessionId,
        image.imageId,
        image.opaque,
        image.mime,
        image.bytes,
        image.width,
        image.height,
        image.trueClass,
        image.predictedClass,
        image.confidence,
      );
  }

  image(sessionId: number, imageId: number): ImageRow | undefined {
    return this.db
      .prepare(
        'SELECT image_id AS imageId, opaque, mime, width, height, true_class AS trueClass, predicted_class AS predictedClass, confidence FROM label_images WHERE session_id = ? AND image_id = ?',
      )
      .get(sessionId, imageId) as ImageRow | undefined;
  }

  imageBytes(sessionId: number, imageId: number): { bytes: Buffer; mime: string } | undefined {
    return this.db
      .prepare('SELECT bytes, mime FROM label_images WHERE session_id = ? AND image_id = ?')
      .get(sessionId, imageId) as { bytes: Buffer; mime: string } | undefined;
  }

  /** The bytes behind an opaque image id, only when one of the seat's non-reveal tasks shows it. */
  imageForSeat(opaque: string, seatId: number): { bytes: Buffer; mime: string } | undefined {
    return this.db
      .prepare(
        `SELECT i.bytes, i.mime FROM label_images i
         JOIN label_items it ON it.session_id = i.session_id AND it.image_id = i.image_id AND it.task_type != 'reveal'
         JOIN label_tasks t ON t.item_id = it.id
         WHERE i.opaque = ? AND t.seat_id = ? LIMIT 1`,
      )
      .get(opaque, seatId) as { bytes: Buffer; mime: string } | undefined;
  }

  /**
   * Copies a session's images and items, as stored, into another project's session (an annotator
   * pack); items go without their gold answer. Returns the new item id of every old one.
   */
  copyContent(sessionId: number, target: LabelRepository, targetSessionId: number): Map<number, number> {
    const insertImage = target.db.prepare(
      'INSERT INTO label_images (session_id, image_id, opaque, mime, bytes, width, height, true_class, predicted_class, confidence) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    for (const i of this.db
      .prepare('SELECT * FROM label_images WHERE session_id = ?')
      .iterate(sessionId) as IterableIterator<Record<string, unknown>>) {
      insertImage.run(
        targetSessionId,
        i.image_id,
        i.opaque,
        i.mime,
        i.bytes,
        i.width,
        i.height,
        i.true_class,
        i.predicted_class,
        i.confidence,
      );
    }
    const itemIds = new Map<number, number>();
    const insertItem = target.db.prepare(
      'INSERT INTO label_items (uuid, session_id, task_type, image_id, explanations, maps, gold) VALUES (?, ?, ?, ?, ?, ?, NULL)',
    );
    for (const i of this.db
      .prepare('SELECT * FROM label_items WHERE session_id = ? ORDER BY id')
      .all(sessionId) as Record<string, unknown>[]) {
      itemIds.set(
        i.id as number,
        Number(
          insertItem.run(i.uuid, targetSessionId, i.task_type, i.image_id, i.explanations, i.maps).lastInsertRowid,
        ),
      );
    }
    return itemIds;
  }

  insertItem(
    sessionId: number,
    item: {
      taskType: TaskType;
      imageId: number;
      explanations: unknown;
      maps: StoredMap[];
      gold: unknown | null;
      uuid?: string;
    },
  ): number {
    return Number(
      this.db
        .prepare(
          'INSERT INTO label_items (uuid, session_id, task_type, image_id, explanations, maps, gold) VALUES (?, ?, ?, ?, ?, ?, ?)',
        )
        .run(
          item.uuid ?? randomUUID(),
          sessionId,
          item.taskType,
          item.imageId,
          JSON.stringify(item.explanations),
          serialize(item.maps),
          item.gold === null ? null : JSON.stringify(item.gold),
        ).lastInsertRowid,
    );
  }

  item(id: number): ItemRow | undefined {
    return this.db.prepare(`SELECT ${ITEM} FROM label_items WHERE id = ?`).get(id) as ItemRow | undefined;
  }

  itemByUuid(uuid: string): ItemRow | undefined {
    return this.db.prepare(`SELECT ${ITEM} FROM label_items WHERE uuid = ?`).get(uuid) as ItemRow | undefined;
  }

  items(sessionId: number): ItemRow[] {
    return this.db
      .prepare(`SELECT ${ITEM} FROM label_items WHERE session_id = ? ORDER BY id`)
      .all(sessionId) as ItemRow[];
  }

  itemMaps(itemId: number): StoredMap[] {
    const row = this.db.prepare('SELECT maps FROM label_items WHERE id = ?').get(itemId) as { maps: Buffer };
    return deserialize(row.maps) as StoredMap[];
  }

  insertSeat(sessionId: number, index: number, annotatorId: number | null, uuid: string = randomUUID()): number {
    return Number(
      this.db
        .prepare('INSERT INTO label_seats (uuid, session_id, seat_index, annotator_id) VALUES (?, ?, ?, ?)')
        .run(uuid, sessionId, index, annotatorId).lastInsertRowid,
    );
  }

  seats(sessionId: number): SeatRow[] {
    return this.db
      .prepare(`SELECT ${SEAT} FROM label_seats WHERE session_id = ? ORDER BY seat_index`)
      .all(sessionId) as SeatRow[];
  }

  seat(id: number): SeatRow | undefined {
    return this.db.prepare(`SELECT ${SEAT} FROM label_seats WHERE id = ?`).get(id) as SeatRow | undefined;
  }

  seatOf(sessionId: number, annotatorId: number): SeatRow | undefined {
    return this.db
      .prepare(`SELECT ${SEAT} FROM label_seats WHERE session_id = ? AND annotator_id = ?`)
      .get(sessionId, annotatorId) as SeatRow | undefined;
  }

  seatByToken(tokenHash: string): SeatRow | undefined {
    return this.db.prepare(`SELECT ${SEAT} FROM label_seats WHERE token_hash = ?`).get(tokenHash) as
      SeatRow | undefined;
  }

  /** Binds the first free seat to an annotator (a crowd participant with a token hash); undefined when the session is full. */
  claimSeat(sessionId: number, annotatorId: number, tokenHash: string | null = null): SeatRow | undefined {
    const free = this.db
      .prepare(
        `SELECT id FROM label_seats WHERE session_id = ? AND annotator_id IS NULL AND state = 'active' ORDER BY seat_index LIMIT 1`,
      )
      .get(sessionId) as { id: number } | undefined;
    if (!free) return undefined;
    this.db
      .prepare('UPDATE label_seats SET annotator_id = ?, token_hash = ? WHERE id = ?')
      .run(annotatorId, tokenHash, free.id);
    return this.seat(free.id);
  }

  /**
   * A crowd participant joining: a new participant annotator on the first free seat, with the token
   * hash and leaderboard choice, in one transaction; undefined (and nothing written) when the session is full.
   */
  joinAsParticipant(sessionId: number, name: string, tokenHash: string, leaderboard: boolean): SeatRow | undefined {
    const full = new Error('session full');
    try {
      return this.db.transaction(() => {
        const annotator = this.addAnnotator(name, 'participant');
        const seat = this.claimSeat(sessionId, annotator.id, tokenHash);
        if (!seat) throw full;
        this.updateSeat(seat.id, { leaderboard });
        return this.seat(seat.id)!;
      })();
    } catch (error) {
      if (error === full) return undefined;
      throw error;
    }
  }

  updateSeat(
    seatId: number,
    fields: { state?: SeatRow['state']; tutorialDone?: number; leaderboard?: boolean; tokenHash?: string | null },
  ): void {
    if (fields.state !== undefined)
      this.db.prepare('UPDATE label_seats SET state = ? WHERE id = ?').run(fields.state, seatId);
    if (fields.tutorialDone !== undefined)
      this.db.prepare('UPDATE label_seats SET tutorial_done = ? WHERE id = ?').run(fields.tutorialDone, seatId);
    if (fields.leaderboard !== undefined)
      this.db.prepare('UPDATE label_seats SET leaderboard = ? WHERE id = ?').run(fields.leaderboard ? 1 : 0, seatId);
    if (fields.tokenHash !== undefined)
      this.db.prepare('UPDATE label_seats SET token_hash = ? WHERE id = ?').run(fields.tokenHash, seatId);
  }

  /** Binds an open seat to an annotator who answered it elsewhere (a pack). */
  bindSeat(seatId: number, annotatorId: number): void {
    this.db
      .prepare('UPDATE label_seats SET annotator_id = ? WHERE id = ? AND annotator_id IS NULL')
      .run(annotatorId, seatId);
  }

  counts(sessionId: number): { items: number; goldItems: number; seats: number; tasks: number; answered: number } {
    return this.db
      .prepare(
        `SELECT (SELECT count(*) FROM label_items WHERE session_id = $s) AS items,
                (SELECT count(*) FROM label_items WHERE session_id = $s AND gold IS NOT NULL) AS goldItems,
                (SELECT count(*) FROM label_seats WHERE session_id = $s) AS seats,
                (SELECT count(*) FROM label_tasks t JOIN label_seats s ON s.id = t.seat_id WHERE s.session_id = $s) AS tasks,
                (SELECT count(*) FROM label_answers a JOIN label_tasks t ON t.id = a.task_id JOIN label_seats s ON s.id = t.seat_id WHERE s.session_id = $s) AS answered`,
      )
      .get({ s: sessionId }) as { items: number; goldItems: number; seats: number; tasks: number; answered: number };
  }
}

export function parseAnswer(text: string): Answer {
  return JSON.parse(text) as Answer;
}
