/**
 * The labelling methods of the contract: annotators, sessions (planning, creating, their state and
 * seats), the local annotator's tasks, exports, annotator packs and crowd hosts. Every change to a
 * session emits `labels.changed` here, so every client's view follows.
 */
import type { ParsedRequest, Result } from '../../src-shared/contract.ts';
import { ApiError } from '../../src-shared/errors.ts';
import { modelScope, type Context } from '../runtime/context.ts';
import type { SeatRow } from '../store/labels.ts';
import { exportPack as writePack, mergePack as mergePackFile } from './packs.ts';
import { exportAnswers, sessionAgreement, sessionDetail, sessionSummary } from './report.ts';
import { createSession as create, previewSession } from './sessions.ts';
import { sourceChoices } from './sources.ts';
import { answer, history, leaderboard, next, reopen, type ImageSrc } from './tasks.ts';
import { reveal } from './reveal.ts';

const changed = (ctx: Context, sessionId: number) => ctx.emit('labels.changed', { sessionId });

function sessionOf(ctx: Context, sessionId: number) {
  const session = ctx.project.labels.session(sessionId);
  if (!session) throw new ApiError('session_not_found', `No labelling session with id ${sessionId} in this project`);
  return session;
}

const detail = (ctx: Context, sessionId: number) =>
  sessionDetail(ctx.project, sessionOf(ctx, sessionId), (id) => ctx.crowds.info(id));

/** The local annotator's seat in the session, claiming a free one the first time. */
export function seatOf(ctx: Context, sessionId: number, annotatorId: number): SeatRow {
  const project = ctx.project;
  sessionOf(ctx, sessionId);
  const annotator = project.labels.annotator(annotatorId);
  if (!annotator) throw new ApiError('annotator_not_found', `No annotator with id ${annotatorId} in this project`);
  const seat = project.labels.seatOf(sessionId, annotatorId);
  if (seat) return seat;
  const claimed = project.transaction(() => project.labels.claimSeat(sessionId, annotatorId))();
  if (!claimed)
    throw new ApiError('session_full', `${annotator.name} has no seat in this session and every seat is taken`);
  changed(ctx, sessionId);
  return claimed;
}

/** Local tasks carry their images inline, so an annotator pack opened on another desktop needs nothing but its own file. */
export function inlineImage(ctx: Context): ImageSrc {
  return ({ sessionId, imageId, mime }) =>
    `data:${mime};base64,${ctx.project.labels.imageBytes(sessionId, imageId)!.bytes.toString('base64')}`;
}

export const listAnnotators = (ctx: Context): Result<'annotators.list'> => ctx.project.labels.annotators();
export const addAnnotator = (ctx: Context, { name, role }: ParsedRequest<'annotators.add'>): Result<'annotators.add'> =>
  ctx.project.labels.addAnnotator(name, role);

export function labelSources(
  ctx: Context,
  { modelId, filter }: ParsedRequest<'labels.sources'>,
): Promise<Result<'labels.sources'>> {
  const imageIds = filter && Array.from(ctx.project.images.matchingIds({ ...filter, modelId, sort: 'id' }));
  return sourceChoices(modelScope(ctx, modelId), imageIds);
}

export const previewLabels = (
  ctx: Context,
  request: ParsedRequest<'labels.preview'>,
): Promise<Result<'labels.preview'>> => previewSession(modelScope(ctx, request.modelId), request);

export async function createSession(
  ctx: Context,
  request: ParsedRequest<'labels.create'>,
): Promise<Result<'labels.create'>> {
  const sessionId = await create(modelScope(ctx, request.modelId), request);
  changed(ctx, sessionId);
  return detail(ctx, sessionId);
}

export const listSessions = (ctx: Context): Result<'labels.sessions'> =>
  ctx.project.labels.sessions().map((s) => sessionSummary(ctx.project, s, (id) => ctx.crowds.info(id)));
export const getSession = (ctx: Context, { sessionId }: ParsedRequest<'labels.session'>): Result<'labels.session'> =>
  detail(ctx, sessionId);

/** Pause, resume or end a session. An ended session opens again only with `confirm`, never by accident. */
export function setSessionState(
  ctx: Context,
  { sessionId, state, confirm }: ParsedRequest<'labels.setState'>,
): Result<'labels.setState'> {
  const session = sessionOf(ctx, sessionId);
  if (session.state === 'ended' && state !== 'ended' && !confirm) {
    throw new ApiError(
      'confirmation_needed',
      `Session "${session.name}" has ended. Reopening it lets its annotators and participants answer again; confirm to reopen it.`,
    );
  }
  ctx.project.labels.setState(sessionId, state);
  changed(ctx, sessionId);
  return detail(ctx, sessionId);
}

/** The seat keeps its answers; its token stops working and its open tasks are no longer dealt. */
export function removeSeat(
  ctx: Context,
  { sessionId, seatId }: ParsedRequest<'labels.removeSeat'>,
): Result<'labels.removeSeat'> {
  const seat = ctx.project.labels.seat(seatId);
  if (!seat || seat.sessionId !== sessionId)
    throw new ApiError('invalid_request', `Session ${sessionId} has no seat ${seatId}`);
  ctx.project.labels.updateSeat(seatId, { state: 'removed', tokenHash: null });
  changed(ctx, sessionId);
  return detail(ctx, sessionId);
}

export const nextTask = (
  ctx: Context,
  { sessionId, annotatorId }: ParsedRequest<'labels.next'>,
): Result<'labels.next'> => next(ctx.project, seatOf(ctx, sessionId, annotatorId), inlineImage(ctx));

export function answerTask(
  ctx: Context,
  { sessionId, annotatorId, taskId, answer: given, shownAt }: ParsedRequest<'labels.answer'>,
): Result<'labels.answer'> {
  const ack = answer(
    ctx.project,
    seatOf(ctx, sessionId, annotatorId),
    taskId,
    given,
    'local',
    inlineImage(ctx),
    shownAt,
  );
  changed(ctx, sessionId);
  return ack;
}

export const reopenTask = (
  ctx: Context,
  { sessionId, annotatorId, taskId }: ParsedRequest<'labels.task'>,
): Result<'labels.task'> => reopen(ctx.project, seatOf(ctx, sessionId, annotatorId), taskId, inlineImage(ctx));
export const taskHistory = (
  ctx: Context,
  { sessionId, annotatorId }: ParsedRequest<'labels.history'>,
): Result<'labels.history'> => history(ctx.project, seatOf(ctx, sessionId, annotatorId));
export const revealStep = (
  ctx: Context,
  { sessionId, annotatorId, taskId, step }: ParsedRequest<'labels.reveal'>,
): Promise<Result<'labels.reveal'>> =>
  reveal(ctx.project, ctx.images, seatOf(ctx, sessionId, annotatorId), taskId, step);
export const seatLeaderboard = (
  ctx: Context,
  { sessionId, annotatorId }: ParsedRequest<'labels.leaderboard'>,
): Result<'labels.leaderboard'> => leaderboard(ctx.project, seatOf(ctx, sessionId, annotatorId));
export const agreement = (
  ctx: Context,
  { sessionId, samples }: ParsedRequest<'labels.agreement'>,
): Result<'labels.agreement'> => sessionAgreement(ctx.project, sessionId, samples);

export function exportLabels(
  ctx: Context,
  { sessionId, format }: ParsedRequest<'labels.export'>,
): Result<'labels.export'> {
  const session = sessionOf(ctx, sessionId);
  const text = exportAnswers(ctx.project, sessionId, format);
  const answers = ctx.project.labels.counts(sessionId).answered;
  return { filename: `${session.name.replace(/[^\w.-]+/g, '_')}-answers.${format}`, text, answers };
}

export const exportPack = (
  ctx: Context,
  { sessionId, path }: ParsedRequest<'labels.exportPack'>,
): Result<'labels.exportPack'> => writePack(ctx.project, sessionId, path);

export async function mergePack(
  ctx: Context,
  { path }: ParsedRequest<'labels.mergePack'>,
): Promise<Result<'labels.mergePack'>> {
  const report = await mergePackFile(ctx.project, path);
  const session = ctx.project.labels.sessionByUuid(report.session);
  if (session) changed(ctx, session.id);
  return report;
}

export const openCrowd = (
  ctx: Context,
  { sessionId, host, port }: ParsedRequest<'labels.openCrowd'>,
): Promise<Result<'labels.openCrowd'>> => ctx.crowds.open(sessionId, host, port);
export const closeCrowd = async (
  ctx: Context,
  { sessionId }: ParsedRequest<'labels.closeCrowd'>,
): Promise<Result<'labels.closeCrowd'>> => ({ closed: await ctx.crowds.close(sessionId) });
