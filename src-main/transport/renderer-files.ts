/**
 * The built renderer's files, for both ways it is served (the browser host and Electron's xai-app://
 * scheme): one traversal guard, one type table, one content security policy.
 */
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
};

/** A file below rendererDir by its URL path ("/" is index.html), or null when it is outside or missing. */
export async function readRendererFile(
  rendererDir: string,
  urlPath: string,
): Promise<{ bytes: Buffer; mime: string } | null> {
  let relative: string;
  try {
    relative = urlPath === '/' ? 'index.html' : decodeURIComponent(urlPath.replace(/^\/+/, ''));
  } catch {
    return null;
  }
  const root = normalize(rendererDir);
  const file = normalize(join(root, relative));
  if (!file.startsWith(root + sep)) return null;
  try {
    return { bytes: await readFile(file), mime: MIME[extname(file)] ?? 'application/octet-stream' };
  } catch {
    return null;
  }
}

/** The renderer's policy: only its own scripts and workers; images and connections from the given extra sources. */
export function contentSecurityPolicy(extra: { img?: string; connect?: string } = {}): string {
  const sources = (...list: Array<string | undefined>) => list.filter(Boolean).join(' ');
  return [
    "default-src 'none'",
    "script-src 'self'",
    "worker-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    `img-src ${sources("'self'", extra.img, 'data:', 'blob:')}`,
    "font-src 'self'",
    `connect-src ${sources("'self'", extra.connect)}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}
