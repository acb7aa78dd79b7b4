/**
 * Labelling in the workstation: the local annotator's calls (by session and annotator), the session
 * owner's controls, and the crowd hosts of the open project. Handlers call this; it calls the labels
 * modules. Local tasks carry their images inline (data URLs), so an annotator pack opened on another
 * desktop needs nothing but its own file.
 */
import QRCode from 'qrcode';
import { ApiError } from '../../src-shared/errors.ts';
import type { SessionDetail, SessionSummary } from '../../src-shared/schemas/labels.ts';
import type { Project } from '../store/project.ts';
import type { SeatRow } from '../store/labels.ts';
import { sessionDetail, sessionSummary } from './report.ts';
import type { ImageSrc } from './tasks.ts';

export interface CrowdOptions {
  project: () => Project;
  sessionId: number;
  rendererDir: string;
  host?: string;
  port?: number;
  /** Called after anything that changes the session's progress (answers, joins). */
  onChange: () => void;
}

export interface RunningCrowd {
  url: string;
  code: string;
  host: string;
  port: number;
  close(): Promise<void>;
}

/** Starts a crowd host for a session: the network side lives in the transport layer, handed in by the composition root. */
export type CrowdHost = (options: CrowdOptions) => Promise<RunningCrowd>;

export class LabelsHub {
  private readonly crowds = new Map<number, RunningCrowd & { qrSvg: string }>();

  constructor(
    private readonly project: () => Project,
    private readonly rendererDir: string,
    private readonly changed: (sessionId: number) => void,
    private readonly crowdHost?: CrowdHost,
  ) {}

  readonly crowdInfo = (sessionId: number): SessionSummary['crowd'] => {
    const crowd = this.crowds.get(sessionId);
    return crowd ? { url: crowd.url, code: crowd.code, qrSvg: crowd.qrSvg } : null;
  };

  session(sessionId: number) {
    const session = this.project().labels.session(sessionId);
    if (!session) throw new ApiError('session_not_found', `No labelling session with id ${sessionId} in this project`);
    return session;
  }

  detail(sessionId: number): SessionDetail {
    return sessionDetail(this.project(), this.session(sessionId), this.crowdInfo);
  }

  summaries(): SessionSummary[] {
    return this.project().labels.sessions().map((s) => sessionSummary(this.project(), s, this.crowdInfo));
  }

  /** The annotator's seat in the session, claiming a free one the first time. */
  seat(sessionId: number, annotatorId: number): SeatRow {
    const project = this.project();
    this.session(sessionId);
    if (!project.labels.annotator(annotatorId)) throw new ApiError('annotator_not_found', `No annotator with id ${annotatorId} in this project`);
    const seat = project.labels.seatOf(sessionId, annotatorId);
    if (seat) return seat;
    const claimed = project.db.transaction(() => project.labels.claimSeat(sessionId, annotatorId))();
    if (!claimed) throw new ApiError('session_full', `${project.labels.annotator(annotatorId)!.name} has no seat in this session and every seat is taken`);
    this.changed(sessionId);
    return claimed;
  }

  readonly inlineImage: ImageSrc = ({ sessionId, imageId, mime }) => {
    const stored = this.project().labels.imageBytes(sessionId, imageId)!;
    return `data:${mime};base64,${stored.bytes.toString('base64')}`;
  };

  /** Pause, resume or end a session. An ended session opens again only with `confirm`, never by accident. */
  setState(sessionId: number, state: 'open' | 'paused' | 'ended', confirm = false): SessionDetail {
    const session = this.session(sessionId);
    if (session.state === 'ended' && state !== 'ended' && !confirm) {
      throw new ApiError('confirmation_needed', `Session "${session.name}" has ended. Reopening it lets its annotators and participants answer again; confirm to reopen it.`);
    }
    this.project().labels.setState(sessionId, state);
    this.changed(sessionId);
    return this.detail(sessionId);
  }

  removeSeat(sessionId: number, seatId: number): SessionDetail {
    const seat = this.project().labels.seat(seatId);
    if (!seat || seat.sessionId !== sessionId) throw new ApiError('invalid_request', `Session ${sessionId} has no seat ${seatId}`);
    // The seat keeps its answers; its token stops working and its open tasks are no longer dealt.
    this.project().labels.updateSeat(seatId, { state: 'removed', tokenHash: null });
    this.changed(sessionId);
    return this.detail(sessionId);
  }

  async openCrowd(sessionId: number, host?: string, port?: number): Promise<{ url: string; code: string; qrSvg: string }> {
    const session = this.session(sessionId);
    if (session.state === 'ended') throw new ApiError('session_ended', `Session "${session.name}" has ended; it cannot be opened to the network`);
    if (!this.crowdHost) throw new ApiError('invalid_request', 'This workstation was started without a network host, so it cannot open a session to participants');
    await this.closeCrowd(sessionId);
    const crowd = await this.crowdHost({ project: this.project, sessionId, rendererDir: this.rendererDir, host, port, onChange: () => this.changed(sessionId) }).catch((error: Error) => {
      throw new ApiError('invalid_request', `Cannot open the session on ${host ?? 'the LAN address'}${port ? `:${port}` : ''}: ${error.message}`);
    });
    const qrSvg = await QRCode.toString(crowd.url, { type: 'svg', margin: 1, errorCorrectionLevel: 'M' });
    this.crowds.set(sessionId, { ...crowd, qrSvg });
    this.changed(sessionId);
    return { url: crowd.url, code: crowd.code, qrSvg };
  }

  async closeCrowd(sessionId: number): Promise<boolean> {
    const crowd = this.crowds.get(sessionId);
    if (!crowd) return false;
    this.crowds.delete(sessionId);
    await crowd.close();
    this.changed(sessionId);
    return true;
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.crowds.keys()].map((id) => this.closeCrowd(id)));
  }
}
