/**
 * Annotator packs: a session taken to a disconnected desktop and its answers brought back. A pack is
 * itself a project file holding only that session (its images, items, seats, tasks, annotators and any
 * answers so far), so the other desktop opens it and labels as usual. Merging matches rows by uuid.
 * Policy: an answer the master lacks is added; an identical one changes nothing (merging a pack twice
 * is a no-op); a newer revision of an answer that came from this same pack replaces it; any other
 * difference is a conflict, listed with both answers and never resolved silently (the master keeps its).
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { ApiError } from '../../src-shared/errors.ts';
import type { MergeReport } from '../../src-shared/labels.ts';
import { Project } from '../store/project.ts';
import { parseAnswer } from '../store/labels.ts';

const PACK_UUID = 'pack_uuid';
const PACK_SESSION = 'pack_session';

export function exportPack(project: Project, sessionId: number, path: string): { path: string; pack: string; seats: number; tasks: number; answers: number } {
  const session = project.labels.session(sessionId);
  if (!session) throw new ApiError('session_not_found', `No labelling session with id ${sessionId} in this project`);
  const pack = Project.create(path, `${session.name} (annotator pack)`);
  const packUuid = randomUUID();
  try {
    const to = pack.labels;
    const from = project.labels;
    let tasks = 0;
    let answers = 0;
    pack.db.transaction(() => {
      pack.setMeta(PACK_UUID, packUuid);
      pack.setMeta(PACK_SESSION, session.uuid);
      pack.setMeta('pack_of', project.name);
      const newSession = to.insertSession(session.name, JSON.parse(session.config), session.uuid, session.state === 'ended' ? 'ended' : 'open', session.createdAt);
      const images = project.db.prepare('SELECT * FROM label_images WHERE session_id = ?').all(sessionId) as Record<string, unknown>[];
      const insertImage = pack.db.prepare('INSERT INTO label_images (session_id, image_id, opaque, mime, bytes, width, height, true_class, predicted_class, confidence) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
      for (const i of images) insertImage.run(newSession, i.image_id, i.opaque, i.mime, i.bytes, i.width, i.height, i.true_class, i.predicted_class, i.confidence);
      const itemIds = new Map<number, number>();
      const items = project.db.prepare('SELECT * FROM label_items WHERE session_id = ? ORDER BY id').all(sessionId) as Record<string, unknown>[];
      const insertItem = pack.db.prepare('INSERT INTO label_items (uuid, session_id, task_type, image_id, explanations, maps, gold) VALUES (?, ?, ?, ?, ?, ?, ?)');
      for (const i of items) itemIds.set(i.id as number, Number(insertItem.run(i.uuid, newSession, i.task_type, i.image_id, i.explanations, i.maps, i.gold).lastInsertRowid));
      const annotatorIds = new Map<number, number>();
      for (const seat of from.seats(sessionId)) {
        let annotatorId: number | null = null;
        if (seat.annotatorId !== null) {
          const a = from.annotator(seat.annotatorId)!;
          annotatorId = to.addAnnotator(a.name, a.role, a.uuid, a.createdAt).id;
          annotatorIds.set(a.id, annotatorId);
        }
        const seatId = to.insertSeat(newSession, seat.index, annotatorId, seat.uuid);
        to.updateSeat(seatId, { state: seat.state, tutorialDone: seat.tutorialDone, leaderboard: seat.leaderboard === 1 });
        for (const task of from.tasks(seat.id)) {
          to.insertTask(seatId, itemIds.get(task.itemId)!, task.position, task.uuid);
          tasks++;
          const packTask = to.taskByUuid(task.uuid)!;
          if (task.revealed >= 0) to.setRevealed(packTask.id, task.revealed);
          const a = from.answer(task.id);
          if (a) {
            pack.db
              .prepare('INSERT INTO label_answers (task_id, annotator_id, answer, correct, score, points, revision, origin, shown_at, answered_at, revised_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
              .run(packTask.id, annotatorIds.get(a.annotatorId) ?? annotatorId, a.answer, a.correct, a.score, a.points, a.revision, a.origin, a.shownAt, a.answeredAt, a.revisedAt);
            answers++;
          }
        }
      }
    })();
    return { path: pack.path, pack: packUuid, seats: from.seats(sessionId).length, tasks, answers };
  } finally {
    pack.close();
  }
}

const canonical = (text: string) => JSON.stringify(parseAnswer(text));

export function mergePack(project: Project, path: string): MergeReport {
  if (!existsSync(path)) throw new ApiError('source_not_found', `No annotator pack at ${path}`);
  if (path === project.path) throw new ApiError('pack_invalid', `${path} is the open project itself, not a pack`);
  const pack = Project.open(path, { readonly: true });
  try {
    const packUuid = pack.meta(PACK_UUID);
    const sessionUuid = pack.meta(PACK_SESSION);
    if (!packUuid || !sessionUuid) throw new ApiError('pack_invalid', `${path} is a project, not an annotator pack (it has no pack id)`);
    const packSession = pack.labels.sessionByUuid(sessionUuid);
    const master = project.labels.sessionByUuid(sessionUuid);
    if (!packSession) throw new ApiError('pack_invalid', `${path} names session ${sessionUuid} but does not contain it`);
    if (!master) throw new ApiError('session_not_found', `The pack holds session "${packSession.name}" (${sessionUuid}), which this project does not have`);
    const origin = `pack:${packUuid}`;
    const report: MergeReport = { pack: packUuid, session: sessionUuid, added: 0, updated: 0, unchanged: 0, conflicts: [], unknown: 0 };
    project.db.transaction(() => {
      for (const a of pack.labels.sessionAnswers(packSession.id)) {
        const task = project.labels.taskByUuid(a.taskUuid);
        if (!task) {
          report.unknown++;
          continue;
        }
        const annotator = project.labels.annotatorByUuid(a.annotatorUuid) ?? project.labels.addAnnotator(a.annotatorName, a.annotatorRole as 'analyst' | 'participant', a.annotatorUuid);
        const seat = project.labels.seat(task.seatId)!;
        if (seat.annotatorId === null) project.db.prepare('UPDATE label_seats SET annotator_id = ? WHERE id = ?').run(annotator.id, seat.id);
        else if (seat.annotatorId !== annotator.id) {
          const existing = project.labels.answer(task.id);
          report.conflicts.push({ taskId: a.taskUuid, annotator: a.annotatorName, item: a.itemUuid, master: existing ? parseAnswer(existing.answer) : parseAnswer(a.answer), pack: parseAnswer(a.answer) });
          continue;
        }
        const existing = project.labels.answer(task.id);
        const packTask = pack.labels.taskByUuid(a.taskUuid)!;
        if (packTask.revealed >= 0) project.labels.setRevealed(task.id, packTask.revealed);
        if (!existing) {
          project.db
            .prepare('INSERT INTO label_answers (task_id, annotator_id, answer, correct, score, points, revision, origin, shown_at, answered_at, revised_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
            .run(task.id, annotator.id, a.answer, a.correct, a.score, a.points, a.revision, origin, a.shownAt, a.answeredAt, a.revisedAt);
          report.added++;
        } else if (canonical(existing.answer) === canonical(a.answer)) {
          report.unchanged++;
        } else if (existing.origin === origin && a.revision > existing.revision) {
          project.db
            .prepare('UPDATE label_answers SET answer = ?, correct = ?, score = ?, points = ?, revision = ?, revised_at = ? WHERE task_id = ?')
            .run(a.answer, a.correct, a.score, a.points, a.revision, a.revisedAt, task.id);
          report.updated++;
        } else {
          report.conflicts.push({ taskId: a.taskUuid, annotator: a.annotatorName, item: a.itemUuid, master: parseAnswer(existing.answer), pack: parseAnswer(a.answer) });
        }
      }
      if (report.added + report.updated > 0) {
        project.db.prepare('INSERT INTO label_merges (pack_uuid, session_uuid, merged_at, report) VALUES (?, ?, ?, ?)').run(packUuid, sessionUuid, new Date().toISOString(), JSON.stringify(report));
      }
    })();
    return report;
  } finally {
    pack.close();
  }
}
