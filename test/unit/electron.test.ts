import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';

vi.mock('electron', () => import('../support/fake-electron.ts'));

import { calls, FakeWebContents, reset } from '../support/fake-electron.ts';
import { createRouter } from '../../src-main/api/router.ts';
import { APP_CSP, handleAppProtocol, handleImageProtocol, registerSchemes } from '../../src-main/app/protocol.ts';
import { guardWebContents, installSecurityGuards, isExternalHttpUrl } from '../../src-main/app/security.ts';
import { createMainWindow } from '../../src-main/app/window.ts';
import { CALL_CHANNEL, EVENT_CHANNEL, isTrustedSender, registerIpc } from '../../src-main/transport/ipc.ts';
import { Workstation } from '../../src-main/workstation.ts';
import { tempDir } from '../support/fixtures.ts';
import { ROOT } from '../support/host.ts';
import { startImport } from '../../src-main/datasets/service.ts';
import { electronDialogs } from '../../src-main/app/dialogs.ts';
import { printWithElectron } from '../../src-main/app/pdf.ts';
import { readFileSync } from 'node:fs';

let workstation: Workstation;
beforeAll(() => {
  workstation = new Workstation({ dataDir: tempDir(), resourcesDir: join(ROOT, 'resources'), transport: 'ipc' });
});
afterAll(() => workstation.shutdown());
beforeEach(() => reset());

const event = (url: string, mainFrame = true) => {
  const frame = { url };
  const sender = { mainFrame: mainFrame ? frame : { url } };
  return { senderFrame: frame, sender } as never;
};

describe('main window', () => {
  it('is sandboxed, context-isolated, without Node, and loads the app scheme, never file://', () => {
    const window = createMainWindow('/app/out/preload') as unknown as {
      options: Record<string, any>;
      loadedUrl: string;
    };
    expect(window.options.webPreferences).toMatchObject({
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      webviewTag: false,
      webSecurity: true,
      preload: '/app/out/preload/index.cjs',
    });
    expect(window.loadedUrl).toBe('xai-app://app/index.html');
  });
});

describe('security guards', () => {
  it('denies navigation away from the app, webviews, and new windows; opens only http(s) externally', () => {
    const contents = new FakeWebContents();
    guardWebContents(contents as never);
    const prevented = (name: string, url?: string) => {
      let wasPrevented = false;
      contents.emit(name, { preventDefault: () => (wasPrevented = true) }, url);
      return wasPrevented;
    };
    expect(prevented('will-navigate', 'https://example.com/')).toBe(true);
    expect(prevented('will-navigate', 'file:///etc/passwd')).toBe(true);
    expect(prevented('will-navigate', 'xai-app://app/index.html')).toBe(false);
    expect(prevented('will-redirect', 'http://127.0.0.1/')).toBe(true);
    expect(prevented('will-attach-webview')).toBe(true);
    expect(contents.windowOpenHandler!({ url: 'https://onnx.ai/' })).toEqual({ action: 'deny' });
    expect(contents.windowOpenHandler!({ url: 'file:///etc/passwd' })).toEqual({ action: 'deny' });
    expect(contents.windowOpenHandler!({ url: 'javascript:alert(1)' })).toEqual({ action: 'deny' });
    expect(calls.openedExternally).toEqual(['https://onnx.ai/']);
    expect(isExternalHttpUrl('smb://host/share')).toBe(false);
  });

  it('denies every permission request and check', () => {
    installSecurityGuards();
    const answers: boolean[] = [];
    calls.permissionHandler!(null, 'media', (granted: boolean) => answers.push(granted));
    calls.permissionHandler!(null, 'notifications', (granted: boolean) => answers.push(granted));
    expect(answers).toEqual([false, false]);
    expect(calls.permissionCheckHandler!()).toBe(false);
  });
});

describe('IPC transport', () => {
  it('trusts only the main frame of an app-scheme page', () => {
    expect(isTrustedSender(event('xai-app://app/index.html'))).toBe(true);
    expect(isTrustedSender(event('xai-app://app/index.html', false))).toBe(false);
    expect(isTrustedSender(event('https://evil.example/'))).toBe(false);
    expect(isTrustedSender(event('file:///tmp/x.html'))).toBe(false);
  });

  it('answers trusted calls through the router and refuses the rest, pushing events to windows', async () => {
    const contents = new FakeWebContents();
    const stop = registerIpc(workstation, createRouter(workstation), () => [contents as never]);
    const handler = calls.ipcHandlers.get(CALL_CHANNEL)!;
    expect(await handler(event('xai-app://app/index.html'), 'projects.current', {})).toEqual({ ok: true, value: null });
    expect(await handler(event('https://evil.example/'), 'projects.current', {})).toMatchObject({
      ok: false,
      error: { code: 'unauthorised' },
    });
    expect(await handler(event('xai-app://app/index.html'), 42, {})).toMatchObject({
      ok: false,
      error: { code: 'invalid_request' },
    });
    expect(await handler(event('xai-app://app/index.html'), 'images.list', { datasetId: 'x' })).toMatchObject({
      ok: false,
      error: { code: 'invalid_request' },
    });
    await workstation.createProject(join(tempDir(), 'ipc.xaiws'));
    expect(contents.sent[0]).toEqual([EVENT_CHANNEL, 'project.changed', expect.objectContaining({ name: 'ipc' })]);
    stop();
    expect(calls.ipcHandlers.has(CALL_CHANNEL)).toBe(false);
  });
});

describe('custom protocols', () => {
  it('registers both schemes as privileged and serves the renderer with a strict CSP', async () => {
    registerSchemes();
    expect(calls.privilegedSchemes.map((s: any) => s.scheme)).toEqual(['xai-app', 'xai-image']);
    handleAppProtocol(join(ROOT, 'out', 'renderer'));
    const serve = calls.protocolHandlers.get('xai-app')!;
    const page = await serve(new Request('xai-app://app/index.html'));
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toBe(APP_CSP);
    expect(APP_CSP).toContain("script-src 'self'");
    expect((await serve(new Request('xai-app://app/..%2F..%2Fpackage.json'))).status).toBe(404);
    expect((await serve(new Request('xai-app://other/index.html'))).status).toBe(404);
  });

  it('serves images by numeric id only', async () => {
    handleImageProtocol(workstation);
    const serve = calls.protocolHandlers.get('xai-image')!;
    expect((await serve(new Request('xai-image://thumb/%2Fetc%2Fpasswd'))).status).toBe(404);
    expect((await serve(new Request('xai-image://file/1'))).status).toBe(404);
    expect((await serve(new Request('xai-image://thumb/999999'))).status).toBe(404);
    const job = startImport(workstation, {
      source: join(ROOT, 'resources/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz'),
    });
    await workstation.jobs.wait(job.id);
    const thumb = await serve(new Request('xai-image://thumb/1'));
    expect(thumb.status).toBe(200);
    expect(thumb.headers.get('content-type')).toBe('image/png');
    const bytes = new Uint8Array(await thumb.arrayBuffer());
    expect(Array.from(bytes.subarray(1, 4))).toEqual([0x50, 0x4e, 0x47]);
    const batch = await serve(new Request('xai-image://batch/thumbs?ids=2,1'));
    expect(batch.status).toBe(200);
    expect(new DataView(await batch.arrayBuffer()).getUint32(0, true)).toBe(2);
    expect((await serve(new Request('xai-image://batch/thumbs?ids=..%2F1'))).status).toBe(400);
  });
});

describe('native dialogs and PDF in the app', () => {
  it('chooses files in the system dialogs, by purpose; a cancel is no path', async () => {
    const app = new Workstation({
      dataDir: tempDir(),
      resourcesDir: join(ROOT, 'resources'),
      transport: 'ipc',
      dialogs: electronDialogs,
    });
    const dispatch = createRouter(app);
    try {
      expect(await dispatch('app.info', {})).toMatchObject({ ok: true, value: { nativeDialogs: true } });
      calls.dialogAnswers.push(
        { canceled: false, filePaths: ['/data/pets'] },
        { canceled: true, filePaths: [] },
        { canceled: false, filePath: '/reports/study' },
      );
      expect(await dispatch('dialogs.open', { purpose: 'import-folder' })).toEqual({
        ok: true,
        value: { path: '/data/pets' },
      });
      expect(await dispatch('dialogs.open', { purpose: 'model' })).toEqual({ ok: true, value: { path: null } });
      expect(await dispatch('dialogs.save', { purpose: 'report-pdf', defaultName: 'study' })).toEqual({
        ok: true,
        value: { path: '/reports/study' },
      });
      expect(
        calls.dialogs.map((d) => [
          d.kind,
          d.options.properties ?? null,
          d.options.filters?.[0]?.extensions ?? null,
          d.options.defaultPath ?? null,
        ]),
      ).toEqual([
        ['open', ['openDirectory'], null, null],
        ['open', ['openFile'], ['onnx'], null],
        ['save', null, ['pdf'], 'study.pdf'],
      ]);
    } finally {
      await app.shutdown();
    }
  });

  it('has no dialogs in the browser host: the views keep typed paths, and a dialog call says why', async () => {
    const dispatch = createRouter(workstation);
    expect(await dispatch('app.info', {})).toMatchObject({ ok: true, value: { nativeDialogs: false } });
    expect(await dispatch('dialogs.open', { purpose: 'pack' })).toMatchObject({
      ok: false,
      error: { code: 'invalid_request', message: expect.stringMatching(/only in the desktop app/) },
    });
  });

  it('prints the report with Electron’s printToPDF in a hidden, sandboxed window without scripts', async () => {
    const dir = tempDir();
    const pdf = join(dir, 'report.pdf');
    expect(await printWithElectron('<html><body>report</body></html>', pdf)).toBe(pdf);
    expect(readFileSync(pdf, 'utf8')).toMatch(/^%PDF-fake file:\/\/.*report\.html$/);
    const window = calls.windows.at(-1)!;
    expect(window.options).toMatchObject({
      show: false,
      webPreferences: { sandbox: true, javascript: false, nodeIntegration: false },
    });
    expect(window.destroyed).toBe(true);
    expect(calls.printed[0]!.options).toMatchObject({ printBackground: true });
  });
});
