/**
 * The app's custom schemes. xai-app:// serves the built renderer (never file://), with a strict CSP;
 * xai-image:// serves project images by opaque id (xai-image://thumb/42, and thumbnails in batches:
 * xai-image://batch/thumbs?ids=1,2,3), never by path.
 */
import { protocol } from 'electron';
import { APP_SCHEME, IMAGE_SCHEME } from '../../src-shared/contract.ts';
import { imageBytes } from '../datasets/images.ts';
import { parseIdList, thumbnailBatch } from '../datasets/read/image-bytes.ts';
import { contentSecurityPolicy, readRendererFile } from '../transport/renderer-files.ts';
import type { Workstation } from '../workstation.ts';

export const APP_CSP = contentSecurityPolicy({ img: `${IMAGE_SCHEME}:`, connect: `${IMAGE_SCHEME}:` });

/** Must run before the app is ready. */
export function registerSchemes(): void {
  protocol.registerSchemesAsPrivileged([
    { scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } },
    { scheme: IMAGE_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } },
  ]);
}

export function handleAppProtocol(rendererDir: string): void {
  protocol.handle(APP_SCHEME, async (request) => {
    const url = new URL(request.url);
    const file = url.host === 'app' ? await readRendererFile(rendererDir, url.pathname) : null;
    if (!file) return new Response('Not found', { status: 404 });
    return new Response(new Uint8Array(file.bytes), {
      headers: { 'content-type': file.mime, 'content-security-policy': APP_CSP },
    });
  });
}

export function handleImageProtocol(workstation: Workstation): void {
  protocol.handle(IMAGE_SCHEME, async (request) => {
    const url = new URL(request.url);
    if (url.host === 'batch' && url.pathname === '/thumbs') {
      const ids = parseIdList(url.searchParams.get('ids'));
      if (!ids) return new Response('Bad request', { status: 400 });
      try {
        return new Response(new Uint8Array(thumbnailBatch(workstation.project, ids)), {
          headers: { 'content-type': 'application/octet-stream' },
        });
      } catch {
        return new Response('Not found', { status: 404 });
      }
    }
    const match = /^\/(\d+)$/.exec(url.pathname);
    if ((url.host !== 'thumb' && url.host !== 'full') || !match) return new Response('Not found', { status: 404 });
    try {
      const { bytes, mime } = await imageBytes(workstation, Number(match[1]), url.host);
      return new Response(new Uint8Array(bytes), { headers: { 'content-type': mime } });
    } catch {
      return new Response('Not found', { status: 404 });
    }
  });
}
