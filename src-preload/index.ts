/**
 * The preload: exposes window.xai with one function per API method (built from the contract), an
 * event subscription that hands listeners the payload only (never the IPC event), and image URLs by
 * opaque id. Nothing else of Electron or Node reaches the page.
 */
import { contextBridge, ipcRenderer } from 'electron';
import { EVENT_NAMES, IMAGE_SCHEME, IPC_PREFIX, METHOD_NAMES } from '../src-shared/contract.ts';

const methods = Object.fromEntries(
  METHOD_NAMES.map((method) => [
    method,
    (request?: unknown) => ipcRenderer.invoke(`${IPC_PREFIX}call`, method, request ?? {}),
  ]),
);

contextBridge.exposeInMainWorld('xai', {
  methods,
  on(event: string, listener: (payload: unknown) => void): () => void {
    if (!(EVENT_NAMES as string[]).includes(event)) throw new Error(`Unknown event ${event}`);
    const wrapped = (_ipcEvent: unknown, name: string, payload: unknown) => {
      if (name === event) listener(payload);
    };
    ipcRenderer.on(`${IPC_PREFIX}event`, wrapped);
    return () => ipcRenderer.removeListener(`${IPC_PREFIX}event`, wrapped);
  },
  imageUrl(imageId: number, variant: 'thumb' | 'full'): string {
    return `${IMAGE_SCHEME}://${variant}/${Math.trunc(imageId)}`;
  },
  thumbnailBatchUrl(imageIds: readonly number[]): string {
    return `${IMAGE_SCHEME}://batch/thumbs?ids=${imageIds.map((id) => Math.trunc(id)).join(',')}`;
  },
});
