/**
 * The participant API of a crowd session host: the second method table, beside contract.ts. A lay
 * participant's browser calls these over HTTP (`POST /api/<method>`, JSON, the resume token as a
 * bearer token after `join`); the host validates every request against this table before anything
 * else happens, and the participant page calls them through a client typed by it.
 */
import { z } from 'zod';
import { Answer, AnswerAck, HistoryEntry, Leaderboard, NextTask, TaskView } from './schemas/labels.ts';

const TaskRef = z.object({ taskId: z.string().min(1).max(200) });
const Empty = z.object({}).default({});

export const RevealStep = z.object({ src: z.string(), step: z.number().int(), percent: z.number() });

export const participantMethods = {
  /** The only call without a token: the session's join code and the name to show. */
  join: {
    request: z.object({
      code: z.string().max(32),
      name: z.string().trim().min(1).max(60),
      leaderboard: z.boolean().default(false),
    }),
    result: z.object({ token: z.string(), name: z.string() }),
  },
  next: { request: Empty, result: NextTask },
  answer: {
    request: TaskRef.extend({ answer: Answer, shownAt: z.string().max(40).nullable().default(null) }),
    result: AnswerAck,
  },
  task: { request: TaskRef, result: TaskView },
  history: { request: Empty, result: z.array(HistoryEntry) },
  reveal: { request: TaskRef.extend({ step: z.number().int() }), result: RevealStep },
  leaderboard: { request: Empty, result: Leaderboard },
  settings: { request: z.object({ leaderboard: z.boolean() }), result: z.object({ ok: z.literal(true) }) },
} as const;

export type ParticipantMethod = keyof typeof participantMethods;
export const PARTICIPANT_METHODS = Object.keys(participantMethods) as ParticipantMethod[];
export type ParticipantRequest<M extends ParticipantMethod> = z.input<(typeof participantMethods)[M]['request']>;
export type ParsedParticipantRequest<M extends ParticipantMethod> = z.output<(typeof participantMethods)[M]['request']>;
export type ParticipantResult<M extends ParticipantMethod> = z.output<(typeof participantMethods)[M]['result']>;

export function isParticipantMethod(name: string): name is ParticipantMethod {
  return Object.hasOwn(participantMethods, name);
}
