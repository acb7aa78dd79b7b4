/**
 * Annotator packs: a session taken to a disconnected desktop and its answers brought back. A pack is
 * itself a project file holding only that session (its images, items, seats, tasks, annotators and any
 * answers so far), so the other desktop opens it and labels as usual. Merging matches rows by uuid.
 * Policy:
 * - A pack carries nothing but its session: no other session, no dataset, and no gold answer (gold
 *   items travel as plain items, answers without their gold judgement), so gold never leaves the master.
 * - A pack is a file from another desktop: it is read in a worker process under a time limit, with the
 *   schema guard and every row checked (pack-read.ts); a bad pack is refused as a whole, naming its
 *   bad rows, and the master is not touched. Every merged answer is judged again by the master
 *   (gold, reveal score, points), whatever the pack says.
 * - An answer the master lacks is added; an identical one changes nothing (merging a pack twice is a
 *   no-op); a newer revision of an answer that came from this same pack replaces it; any other
 *   difference is a conflict, listed with both answers and never resolved silently (the master keeps its).
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { ApiError } from '../../src-shared/errors.ts';
import type { MergeReport, PackContents } from '../../src-shared/schemas/labels.ts';
import { Project } from '../store/project.ts';
import { parseAnswer } from '../store/labels.ts';
import { WorkerClient } from '../workers/client.ts';
import type { PackProtocol } from '../workers/protocols.ts';
import { PACK_SESSION, PACK_UUID } from '../store/pack-read.ts';
import { judge } from './tasks.ts';

/** How long reading a pack may take before its worker is stopped. */
export const PACK_READ_LIMIT_MS = 60_000;

export function exportPack(
  project: Project,
  sessionId: number,
  path: string,
): { path: string; pack: string; seats: number; tasks: number; answers: number } {
  const session = project.labels.session(sessionId);
  if (!session) throw new ApiError('session_not_found', `No labelling session with id ${sessionId} in this project`);
  const pack = Project.create(path, `${session.name} (annotator pack)`);
  const packUuid = randomUUID();
  try {
    const to = pack.labels;
    const from = project.labels;
    let tasks = 0;
    let answers = 0;
    pack.transaction(() => {
      pack.setMeta(PACK_UUID, packUuid);
      pack.setMeta(PACK_SESSION, session.uuid);
      pack.setMeta('pack_of', project.name);
      const newSession = to.insertSession(
        session.name,
        JSON.parse(session.config),
        session.uuid,
        session.state === 'ended' ? 'ended' : 'open',
        session.createdAt,
      );
      const itemIds = from.copyContent(sessionId, to, newSession); // gold stays here
      const annotatorIds = new Map<number, number>();
      for (const seat of from.seats(sessionId)) {
        let annotatorId: number | null = null;
        if (seat.annotatorId !== null) {
          const a = from.annotator(seat.annotatorId)!;
          annotatorId = to.addAnnotator(a.name, a.role, a.uuid, a.createdAt).id;
          annotatorIds.set(a.id, annotatorId);
        }
        const seatId = to.insertSeat(newSession, seat.index, annotatorId, seat.uuid);
        to.updateSeat(seatId, {
          state: seat.state,
          tutorialDone: seat.tutorialDone,
          leaderboard: seat.leaderboard === 1,
        });
        for (const task of project.answers.tasks(seat.id)) {
          pack.answers.insertTask(seatId, itemIds.get(task.itemId)!, task.position, task.uuid);
          tasks++;
          const packTask = pack.answers.taskByUuid(task.uuid)!;
          if (task.revealed >= 0) pack.answers.setRevealed(packTask.id, task.revealed);
          const a = project.answers.answer(task.id);
          if (a) {
            pack.answers.insertAnswer({
              ...a,
              taskId: packTask.id,
              annotatorId: annotatorIds.get(a.annotatorId) ?? annotatorId!,
              correct: null,
            });
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

const canonical = (answer: unknown) => JSON.stringify(answer);

/** The pack's answers, read and checked in a worker process that is stopped after `limitMs`. */
export async function readPackInWorker(path: string, limitMs = PACK_READ_LIMIT_MS): Promise<PackContents> {
  const worker = new WorkerClient<PackProtocol>({
    name: 'pack-worker',
    title: 'pack reader',
    consequence: 'nothing was merged',
  });
  try {
    return await worker.call('read', { path }, { timeoutMs: limitMs, subject: `reading the pack ${path}` });
  } finally {
    await worker.close();
  }
}

export async function mergePack(
  project: Project,
  path: string,
  options: { limitMs?: number } = {},
): Promise<MergeReport> {
  if (!existsSync(path)) throw new ApiError('source_not_found', `No annotator pack at ${path}`);
  if (resolve(path) === resolve(project.path))
    throw new ApiError('pack_invalid', `${path} is the open project itself, not a pack`);
  const pack = await readPackInWorker(path, options.limitMs);
  const master = project.labels.sessionByUuid(pack.sessionUuid);
  if (!master)
    throw new ApiError(
      'session_not_found',
      `The pack holds session "${pack.sessionName}" (${pack.sessionUuid}), which this project does not have`,
    );
  const origin = `pack:${pack.packUuid}`;
  const report: MergeReport = {
    pack: pack.packUuid,
    session: pack.sessionUuid,
    added: 0,
    updated: 0,
    unchanged: 0,
    conflicts: [],
    unknown: 0,
  };
  const problems: string[] = [];
  project.transaction(() => {
    for (const a of pack.answers) {
      const task = project.answers.taskByUuid(a.taskUuid);
      const seat = task && project.labels.seat(task.seatId);
      if (!task || !seat || seat.sessionId !== master.id) {
        report.unknown++; // a task of another session reads exactly like a missing one
        continue;
      }
      const item = project.labels.item(task.itemId)!;
      if (item.uuid !== a.itemUuid || item.taskType !== a.answer.type) {
        problems.push(
          `task ${a.taskUuid.slice(0, 8)}…: the pack says item ${a.itemUuid.slice(0, 8)}… (${a.answer.type}), this session has ${item.uuid.slice(0, 8)}… (${item.taskType})`,
        );
        continue;
      }
      const annotator =
        project.labels.annotatorByUuid(a.annotatorUuid) ??
        project.labels.addAnnotator(a.annotatorName, a.annotatorRole, a.annotatorUuid);
      const existing = project.answers.answer(task.id);
      const conflict = () =>
        report.conflicts.push({
          taskId: a.taskUuid,
          annotator: a.annotatorName,
          item: a.itemUuid,
          master: existing ? parseAnswer(existing.answer) : a.answer,
          pack: a.answer,
        });
      if (seat.annotatorId === null) {
        if (project.labels.seatOf(master.id, annotator.id)) {
          conflict(); // the pack's annotator already holds another seat of this session here
          continue;
        }
        project.labels.bindSeat(seat.id, annotator.id);
      } else if (seat.annotatorId !== annotator.id) {
        conflict();
        continue;
      }
      const bound = project.labels.seat(seat.id)!;
      if (a.revealed >= 0) project.answers.setRevealed(task.id, a.revealed);
      const judged = () => judge(project, bound, project.answers.taskByUuid(a.taskUuid)!, item, a.answer);
      if (!existing) {
        project.answers.insertAnswer({
          taskId: task.id,
          annotatorId: annotator.id,
          answer: JSON.stringify(a.answer),
          ...judged(),
          revision: a.revision,
          origin,
          shownAt: a.shownAt,
          answeredAt: a.answeredAt,
          revisedAt: a.revisedAt,
        });
        report.added++;
      } else if (canonical(parseAnswer(existing.answer)) === canonical(a.answer)) {
        report.unchanged++;
      } else if (existing.origin === origin && a.revision > existing.revision) {
        project.answers.replaceAnswer({
          taskId: task.id,
          answer: JSON.stringify(a.answer),
          ...judged(),
          revision: a.revision,
          revisedAt: a.revisedAt,
        });
        report.updated++;
      } else {
        conflict();
      }
    }
    if (problems.length > 0) {
      throw new ApiError(
        'pack_invalid',
        `${path} does not fit this session and was refused as a whole, nothing of it was merged: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? '; …' : ''}`,
        { problems: problems.slice(0, 100), count: problems.length },
      );
    }
    if (report.added + report.updated > 0) project.answers.recordMerge(pack.packUuid, pack.sessionUuid, report);
  })();
  return report;
}
