/**
 * Reading an annotator pack: a project file from another desktop, so untrusted. It is opened
 * read-only (the schema guard refuses triggers, views and altered tables before any query runs), and
 * every answer is read with its sizes capped in SQL (a 60 MB comment is measured, never loaded) and
 * checked against the schemas the app writes with. The result is the pack's answers, or every problem
 * found, by row; nothing here writes anywhere. Runs in the pack worker (workers/pack.ts), under a time
 * limit its parent enforces.
 */
import { z } from 'zod';
import { ApiError } from '../../src-shared/errors.ts';
import { PACK_LIMITS, PackAnswerRow, type PackContents } from '../../src-shared/schemas/labels.ts';
import { Project } from './project.ts';

export const PACK_UUID = 'pack_uuid';
export const PACK_SESSION = 'pack_session';

const cap = (column: string, limit: number) =>
  `CASE WHEN typeof(${column}) = 'text' AND length(${column}) <= ${limit} THEN ${column} END`;

export function readPack(path: string): PackContents {
  const pack = Project.open(path, { readonly: true });
  try {
    const meta = (key: string) =>
      pack.db.prepare(`SELECT ${cap('value', 200)} AS value FROM project WHERE key = ?`).get(key) as
        { value: string | null } | undefined;
    const packUuid = meta(PACK_UUID)?.value;
    const sessionUuid = meta(PACK_SESSION)?.value;
    if (!packUuid || !sessionUuid)
      throw new ApiError('pack_invalid', `${path} is a project, not an annotator pack (it has no pack id)`);
    const session = pack.db
      .prepare(`SELECT id, ${cap('name', 200)} AS name FROM label_sessions WHERE uuid = ?`)
      .get(sessionUuid) as { id: number; name: string | null } | undefined;
    if (!session) throw new ApiError('pack_invalid', `${path} names session ${sessionUuid} but does not contain it`);
    const rows = pack.db
      .prepare(
        `SELECT ${cap('t.uuid', 64)} AS taskUuid, ${cap('it.uuid', 64)} AS itemUuid, ${cap('it.task_type', 20)} AS taskType, ${cap('an.uuid', 64)} AS annotatorUuid,
                ${cap('an.name', PACK_LIMITS.nameLength)} AS annotatorName, length(an.name) AS nameLength, ${cap('an.role', 20)} AS annotatorRole,
                ${cap('a.answer', PACK_LIMITS.answerBytes)} AS answer, length(a.answer) AS answerLength, a.correct, a.score, a.points, a.revision,
                ${cap('a.origin', PACK_LIMITS.textLength)} AS origin, ${cap('a.shown_at', 40)} AS shownAt, ${cap('a.answered_at', 40)} AS answeredAt,
                ${cap('a.revised_at', 40)} AS revisedAt, t.revealed
         FROM label_answers a JOIN label_tasks t ON t.id = a.task_id JOIN label_items it ON it.id = t.item_id JOIN annotators an ON an.id = a.annotator_id
         WHERE it.session_id = ? ORDER BY a.answered_at, a.task_id LIMIT ${PACK_LIMITS.answers + 1}`,
      )
      .all(session.id) as Record<string, unknown>[];
    if (rows.length > PACK_LIMITS.answers)
      throw new ApiError(
        'pack_invalid',
        `${path} holds more than ${PACK_LIMITS.answers} answers; a pack of one session never does`,
      );
    const problems: string[] = [];
    const answers = rows.flatMap((row, index) => {
      const where = `answer ${index + 1} (task ${String(row.taskUuid ?? '?').slice(0, 8)}…)`;
      if (row.answer === null)
        return (
          problems.push(
            `${where}: the answer is ${row.answerLength} characters, over the ${PACK_LIMITS.answerBytes} an answer can have`,
          ),
          []
        );
      if (row.annotatorName === null)
        return (
          problems.push(
            `${where}: the annotator's name is ${row.nameLength} characters, over ${PACK_LIMITS.nameLength}`,
          ),
          []
        );
      let answer: unknown;
      try {
        answer = JSON.parse(row.answer as string);
      } catch {
        return (problems.push(`${where}: the answer is not valid JSON`), []);
      }
      const parsed = PackAnswerRow.safeParse({
        ...row,
        answer,
        shownAt: row.shownAt ?? null,
        revisedAt: row.revisedAt ?? null,
      });
      if (!parsed.success) return (problems.push(`${where}: ${describe(parsed.error)}`), []);
      if (parsed.data.answer.type !== parsed.data.taskType)
        return (problems.push(`${where}: a ${parsed.data.answer.type} answer to a ${parsed.data.taskType} task`), []);
      return [parsed.data];
    });
    if (problems.length > 0) {
      throw new ApiError(
        'pack_invalid',
        `${path} was refused as a whole, nothing of it was merged: ${problems.length} bad ${problems.length === 1 ? 'row' : 'rows'}: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? '; …' : ''}`,
        { problems: problems.slice(0, 100), count: problems.length },
      );
    }
    return { packUuid, sessionUuid, sessionName: session.name ?? '(unnamed)', answers };
  } finally {
    pack.close();
  }
}

function describe(error: z.ZodError): string {
  const issue = error.issues[0]!;
  return `${issue.path.join('.') || 'row'} ${issue.message}`;
}
