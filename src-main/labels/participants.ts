/**
 * A crowd participant's own records: joining a session (a new participant annotator on a free seat,
 * in one transaction, so a full session leaves no annotator behind) and the leaderboard choice. The
 * session host (transport/crowd.ts) checks the join code and the token; this is what it then does.
 */
import { ApiError } from '../../src-shared/errors.ts';
import type { SeatRow } from '../store/labels.ts';
import type { Project } from '../store/project.ts';

/** Seats a new participant; returns the name shown to them (as stored). */
export function joinSession(
  project: Project,
  sessionId: number,
  request: { name: string; leaderboard: boolean },
  tokenHash: string,
): string {
  const session = project.labels.session(sessionId);
  if (!session) throw new ApiError('session_not_found', `No labelling session with id ${sessionId} in this project`);
  if (session.state === 'ended') throw new ApiError('session_ended', 'The session has ended');
  const seat = project.labels.joinAsParticipant(sessionId, request.name, tokenHash, request.leaderboard);
  if (!seat)
    throw new ApiError('session_full', 'Every seat of this session is taken; ask the session owner for another one');
  return project.labels.annotator(seat.annotatorId!)!.name;
}

export function showOnLeaderboard(project: Project, seat: SeatRow, shown: boolean): void {
  project.labels.updateSeat(seat.id, { leaderboard: shown });
}
