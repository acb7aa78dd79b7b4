import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRouter, type Dispatch } from '../../src-main/api/router.ts';
import { Workstation } from '../../src-main/workstation.ts';
import { METHOD_NAMES, methods } from '../../src-shared/contract.ts';
import { ApiError, toApiError } from '../../src-shared/errors.ts';
import { handlers } from '../../src-main/api/handlers.ts';
import { tempDir } from '../support/fixtures.ts';
import { ROOT } from '../support/host.ts';

let workstation: Workstation;
let dispatch: Dispatch;
beforeAll(() => {
  workstation = new Workstation({ dataDir: tempDir(), resourcesDir: join(ROOT, 'resources'), transport: 'cli' });
  dispatch = createRouter(workstation);
});
afterAll(() => workstation.shutdown());

describe('contract', () => {
  it('has one handler for every method and no handler without a method', () => {
    expect(Object.keys(handlers).sort()).toEqual([...METHOD_NAMES].sort());
  });

  it('applies defaults to image queries and rejects out-of-range values', () => {
    expect(methods['images.list'].request.parse({ datasetId: 1 })).toMatchObject({
      correctness: 'all',
      sort: 'id',
      offset: 0,
      limit: 500,
    });
    expect(methods['images.list'].request.safeParse({ datasetId: 1, confidenceMin: 2 }).success).toBe(false);
    expect(methods['images.list'].request.safeParse({ datasetId: 0 }).success).toBe(false);
  });
});

describe('router', () => {
  it('answers an unknown method with unknown_method', async () => {
    expect(await dispatch('images.delete', {})).toEqual({
      ok: false,
      error: { code: 'unknown_method', message: 'Unknown API method "images.delete"' },
    });
    expect(await dispatch('__proto__', {})).toMatchObject({ ok: false, error: { code: 'unknown_method' } });
  });

  it('names the invalid field of a request', async () => {
    const envelope = await dispatch('images.list', { datasetId: 'one' });
    expect(envelope).toMatchObject({
      ok: false,
      error: { code: 'invalid_request', message: expect.stringContaining('datasetId') },
    });
  });

  it('says no project is open instead of failing obscurely', async () => {
    expect(await dispatch('datasets.list', {})).toMatchObject({ ok: false, error: { code: 'no_project' } });
    expect(await dispatch('projects.current', {})).toEqual({ ok: true, value: null });
  });

  it('wraps results in the envelope and crosses errors as {code, message}', async () => {
    const path = join(tempDir(), 'r.xaiws');
    const created = await dispatch('projects.create', { path, name: 'R' });
    expect(created).toMatchObject({ ok: true, value: { path, name: 'R', datasets: 0 } });
    expect(await dispatch('images.get', { imageId: 5 })).toEqual({
      ok: false,
      error: { code: 'image_not_found', message: 'No image with id 5 in this project' },
    });
    expect(await dispatch('jobs.cancel', { jobId: 'nope' })).toMatchObject({
      ok: false,
      error: { code: 'job_not_found' },
    });
    expect(await dispatch('projects.recent', {})).toMatchObject({
      ok: true,
      value: [expect.objectContaining({ path })],
    });
  });
});

describe('errors', () => {
  it('keeps code and message of API errors and hides nothing else', () => {
    expect(toApiError(new ApiError('model_invalid', 'bad model'))).toEqual({
      code: 'model_invalid',
      message: 'bad model',
    });
    expect(toApiError(new TypeError('boom'))).toEqual({ code: 'internal', message: 'boom' });
    expect(toApiError({ code: 'made_up', message: 'x' })).toEqual({ code: 'internal', message: '[object Object]' });
  });
});
