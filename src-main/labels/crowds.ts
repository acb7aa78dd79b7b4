/**
 * The crowd hosts of the open project's sessions: at most one per session, each a LAN server the
 * transport layer starts (transport/crowd.ts, handed in by the composition root as a CrowdHost).
 * Opening a session to the network again replaces its host; closing the project closes them all.
 */
import QRCode from 'qrcode';
import { ApiError } from '../../src-shared/errors.ts';
import type { CrowdInfo, CrowdRuntime, ImageWorker } from '../runtime/context.ts';
import type { Project } from '../store/project.ts';

export interface CrowdOptions {
  project: () => Project;
  images: ImageWorker;
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

export class Crowds implements CrowdRuntime {
  private readonly running = new Map<number, RunningCrowd & { qrSvg: string }>();

  constructor(
    private readonly project: () => Project,
    private readonly images: ImageWorker,
    private readonly rendererDir: string,
    private readonly changed: (sessionId: number) => void,
    private readonly crowdHost?: CrowdHost,
  ) {}

  info(sessionId: number): CrowdInfo | null {
    const crowd = this.running.get(sessionId);
    return crowd ? { url: crowd.url, code: crowd.code, qrSvg: crowd.qrSvg } : null;
  }

  async open(sessionId: number, host?: string, port?: number): Promise<CrowdInfo> {
    const session = this.project().labels.session(sessionId);
    if (!session) throw new ApiError('session_not_found', `No labelling session with id ${sessionId} in this project`);
    if (session.state === 'ended')
      throw new ApiError('session_ended', `Session "${session.name}" has ended; it cannot be opened to the network`);
    if (!this.crowdHost)
      throw new ApiError(
        'invalid_request',
        'This workstation was started without a network host, so it cannot open a session to participants',
      );
    await this.close(sessionId);
    const crowd = await this.crowdHost({
      project: this.project,
      images: this.images,
      sessionId,
      rendererDir: this.rendererDir,
      host,
      port,
      onChange: () => this.changed(sessionId),
    }).catch((error: Error) => {
      throw new ApiError(
        'invalid_request',
        `Cannot open the session on ${host ?? 'the LAN address'}${port ? `:${port}` : ''}: ${error.message}`,
      );
    });
    const qrSvg = await QRCode.toString(crowd.url, { type: 'svg', margin: 1, errorCorrectionLevel: 'M' });
    this.running.set(sessionId, { ...crowd, qrSvg });
    this.changed(sessionId);
    return { url: crowd.url, code: crowd.code, qrSvg };
  }

  async close(sessionId: number): Promise<boolean> {
    const crowd = this.running.get(sessionId);
    if (!crowd) return false;
    this.running.delete(sessionId);
    await crowd.close();
    this.changed(sessionId);
    return true;
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.running.keys()].map((id) => this.close(id)));
  }
}
