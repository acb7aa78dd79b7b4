/**
 * Electron IPC transport. Policy: one channel for calls and one for events, both under the xai:
 * prefix; a call is answered only when it comes from the main frame of one of our windows with a
 * page served from the app scheme; anything else gets `unauthorised`. Errors cross as {code, message}
 * inside the envelope, because Electron keeps only the message of a thrown error.
 */
import { ipcMain, type IpcMainInvokeEvent, type WebContents } from 'electron';
import { APP_SCHEME, IPC_PREFIX } from '../../src-shared/contract.ts';
import type { Envelope } from '../../src-shared/errors.ts';
import type { Dispatch } from '../api/router.ts';
import type { Workstation } from '../workstation.ts';

export const CALL_CHANNEL = `${IPC_PREFIX}call`;
export const EVENT_CHANNEL = `${IPC_PREFIX}event`;

export function isTrustedSender(event: Pick<IpcMainInvokeEvent, 'senderFrame' | 'sender'>): boolean {
  const frame = event.senderFrame;
  if (!frame || frame !== event.sender.mainFrame) return false;
  try {
    return new URL(frame.url).protocol === `${APP_SCHEME}:`;
  } catch {
    return false;
  }
}

export function registerIpc(workstation: Workstation, dispatch: Dispatch, windows: () => WebContents[]): () => void {
  ipcMain.handle(CALL_CHANNEL, async (event, method: unknown, request: unknown): Promise<Envelope<unknown>> => {
    if (!isTrustedSender(event)) {
      return { ok: false, error: { code: 'unauthorised', message: 'IPC call from an untrusted frame was refused' } };
    }
    if (typeof method !== 'string')
      return { ok: false, error: { code: 'invalid_request', message: 'Method name must be a string' } };
    return dispatch(method, request);
  });
  const unsubscribe = workstation.onEvent((event, payload) => {
    for (const contents of windows()) if (!contents.isDestroyed()) contents.send(EVENT_CHANNEL, event, payload);
  });
  return () => {
    ipcMain.removeHandler(CALL_CHANNEL);
    unsubscribe();
  };
}
