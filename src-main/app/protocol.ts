/**
 * The app's custom schemes. xai-app:// serves the built renderer (never file://), with a strict CSP;
 * xai-image:// serves project images by opaque id (xai-image://thumb/42, and thumbnails in batches:
 * xai-image://batch/thumbs?ids=1,2,3), never by path.
 */
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { protocol } from 'electron';
import { APP_SCHEME, IMAGE_SCHEME } from '../../src-shared/contract.ts';
import { imageBytes, parseIdList, thumbnailBatch } from '../datasets/image-bytes.ts';
import type { Workstation } from '../workstation.ts';

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.woff2': 'font/woff2',
};

export const APP_CSP = [
  "default-src 'none'", "script-src 'self'", "style-src 'self' 'unsafe-inline'", `img-src 'self' ${IMAGE_SCHEME}: data: blob:`,
  "font-src 'self'", `connect-src 'self' ${IMAGE_SCHEME}:`, "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
].join('; ');

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
    const relative = url.pathname === '/' ? 'index.html' : decodeURIComponent(url.pathname.slice(1));
    const file = normalize(join(rendererDir, relative));
    if (url.host !== 'app' || !file.startsWith(normalize(rendererDir) + sep)) return new Response('Not found', { status: 404 });
    try {
      const bytes = await readFile(file);
      return new Response(bytes, {
        headers: { 'content-type': MIME[extname(file)] ?? 'application/octet-stream', 'content-security-policy': APP_CSP },
      });
    } catch {
      return new Response('Not found', { status: 404 });
    }
  });
}

export function handleImageProtocol(workstation: Workstation): void {
  protocol.handle(IMAGE_SCHEME, async (request) => {
    const url = new URL(request.url);
    if (url.host === 'batch' && url.pathname === '/thumbs') {
      const ids = parseIdList(url.searchParams.get('ids'));
      if (!ids) return new Response('Bad request', { status: 400 });
      try {
        return new Response(new Uint8Array(thumbnailBatch(workstation.project, ids)), { headers: { 'content-type': 'application/octet-stream' } });
      } catch {
        return new Response('Not found', { status: 404 });
      }
    }
    const match = /^\/(\d+)$/.exec(url.pathname);
    if ((url.host !== 'thumb' && url.host !== 'full') || !match) return new Response('Not found', { status: 404 });
    try {
      const { bytes, mime } = await imageBytes(workstation.project, Number(match[1]), url.host);
      return new Response(new Uint8Array(bytes), { headers: { 'content-type': mime } });
    } catch {
      return new Response('Not found', { status: 404 });
    }
  });
}
