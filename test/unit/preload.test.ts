import { beforeAll, describe, expect, it, vi } from 'vitest';

vi.mock('electron', () => import('../support/fake-electron.ts'));

import { calls, ipcRenderer, reset } from '../support/fake-electron.ts';
import { METHOD_NAMES } from '../../src-shared/contract.ts';

let xai: any;
beforeAll(async () => {
  reset();
  await import('../../src-preload/index.ts');
  xai = calls.exposed.get('xai');
});

describe('preload', () => {
  it('exposes window.xai with one function per contract method and nothing of Electron', () => {
    expect([...calls.exposed.keys()]).toEqual(['xai']);
    expect(Object.keys(xai).sort()).toEqual(['imageUrl', 'methods', 'on', 'thumbnailBatchUrl']);
    expect(Object.keys(xai.methods).sort()).toEqual([...METHOD_NAMES].sort());
    for (const fn of Object.values(xai.methods)) expect(typeof fn).toBe('function');
  });

  it('sends each call on the one prefixed channel', async () => {
    await xai.methods['images.list']({ datasetId: 1 });
    expect(calls.invoked.at(-1)).toEqual(['xai:call', 'images.list', { datasetId: 1 }]);
  });

  it('hands listeners the payload only, never the IPC event, and can unsubscribe', () => {
    const received: unknown[] = [];
    const off = xai.on('job.updated', (payload: unknown) => received.push(payload));
    ipcRenderer.emit('xai:event', { sender: 'secret' }, 'job.updated', { id: 'j' });
    ipcRenderer.emit('xai:event', { sender: 'secret' }, 'project.changed', null);
    off();
    ipcRenderer.emit('xai:event', { sender: 'secret' }, 'job.updated', { id: 'k' });
    expect(received).toEqual([{ id: 'j' }]);
    expect(() => xai.on('anything', () => undefined)).toThrow(/Unknown event/);
  });

  it('builds image URLs from numeric ids only', () => {
    expect(xai.imageUrl(42, 'thumb')).toBe('xai-image://thumb/42');
    expect(xai.imageUrl('../../etc' as never, 'full')).toBe('xai-image://full/NaN');
    expect(xai.thumbnailBatchUrl([3, 1.7, 2])).toBe('xai-image://batch/thumbs?ids=3,1,2');
  });
});
