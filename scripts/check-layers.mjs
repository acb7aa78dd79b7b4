#!/usr/bin/env node
/**
 * The layering rule of docs/ARCHITECTURE.md, checked on every `npm test`:
 * - only src-main/app/** and src-main/transport/ipc.ts import `electron` (src-preload too: it is the bridge);
 * - src-renderer never imports src-main or src-preload; src-main never imports src-renderer;
 * - src-shared imports nothing from the other layers and no Node built-ins.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname, sep } from 'node:path';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const IMPORT = /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|import\s*['"]([^'"]+)['"]/g;

function* files(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* files(path);
    else if (/\.(ts|svelte|mjs|js)$/.test(name)) yield path;
  }
}

const layerOf = (path) => relative(root, path).split(sep)[0];
const violations = [];
for (const layer of ['src-main', 'src-renderer', 'src-preload', 'src-shared']) {
  for (const file of files(join(root, layer))) {
    const text = readFileSync(file, 'utf8');
    const rel = relative(root, file);
    for (const match of text.matchAll(IMPORT)) {
      const specifier = match[1] ?? match[2] ?? match[3];
      const target = specifier.startsWith('.') ? layerOf(resolve(dirname(file), specifier)) : null;
      const electronAllowed = rel.startsWith(`src-main${sep}app${sep}`) || rel === join('src-main', 'transport', 'ipc.ts') || layer === 'src-preload';
      if (specifier === 'electron' && !electronAllowed) violations.push(`${rel}: imports electron (only src-main/app/ and src-main/transport/ipc.ts may)`);
      if (layer === 'src-renderer' && (target === 'src-main' || target === 'src-preload')) violations.push(`${rel}: the renderer imports ${specifier}`);
      if (layer === 'src-main' && target === 'src-renderer') violations.push(`${rel}: main imports the renderer (${specifier})`);
      if (layer === 'src-shared' && ((target && target !== 'src-shared') || specifier.startsWith('node:'))) violations.push(`${rel}: src-shared must stay environment-free (${specifier})`);
    }
  }
}
if (violations.length > 0) {
  console.error(`Layering violations:\n  ${violations.join('\n  ')}`);
  process.exit(1);
}
console.log('layers: ok');
