/**
 * The project's own lint rule, `xaiws/layers`: the layer order of eslint/layers.mjs, and no import
 * circle between files or between folders. Circles need the whole import graph: it is read once per
 * lint run from the sources themselves (a regular expression over import and export-from statements,
 * type-only imports included: a circle of types is still a circle of design).
 * Reported, each on the import statement that breaks it:
 * - an import from a higher layer;
 * - `electron` outside app/, transport/ipc.ts and the preload; src-main in the renderer or the preload
 *   (the renderer sees only src-shared); Node built-ins or other folders in src-shared;
 * - an import whose target leads back to the importing file, or whose target's folder leads back to
 *   the importing file's folder.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { CHECKED_ROOTS, ELECTRON_ALLOWED, LAYERS } from './layers.mjs';

const IMPORT =
  /(?:^|[\s;])(?:import|export)\s[^'"`;]*?\sfrom\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|(?:^|[\s;])import\s*['"]([^'"]+)['"]/g;
const SOURCE = /\.(ts|mts|mjs|js|svelte)$/;

function globRegex(glob) {
  const escaped = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*\*\/?/g, '\u0000')
    .replace(/\*/g, '[^/]*')
    .replace(/\u0000/g, '.*');
  return new RegExp(`^${escaped}$`);
}

const layerPatterns = LAYERS.map((layer, rank) => ({ ...layer, rank, patterns: layer.files.map(globRegex) }));
const electronPatterns = ELECTRON_ALLOWED.map(globRegex);

export function layerOf(path) {
  return layerPatterns.find((layer) => layer.patterns.some((pattern) => pattern.test(path)));
}

const posix = (path) => path.split(sep).join('/');

function* sourceFiles(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* sourceFiles(path);
    else if (SOURCE.test(name) && !name.endsWith('.d.ts')) yield path;
  }
}

export function importsOf(text) {
  const found = [];
  for (const match of text.matchAll(IMPORT)) found.push(match[1] ?? match[2] ?? match[3]);
  return found;
}

/** The project-relative file a relative specifier names, or null (a package, or a file outside). */
function target(root, fromRel, specifier) {
  if (!specifier.startsWith('.')) return null;
  const absolute = resolve(root, dirname(fromRel), specifier);
  return existsSync(absolute) ? posix(relative(root, absolute)) : null;
}

/** Strongly connected components (Tarjan), as a map from node to component id; only components of two or more count. */
function components(graph) {
  const index = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const component = new Map();
  let counter = 0;
  let next = 0;
  const visit = (start) => {
    // Iterative, so that a long chain of imports cannot overflow the stack.
    const work = [[start, 0]];
    index.set(start, counter);
    low.set(start, counter++);
    stack.push(start);
    onStack.add(start);
    while (work.length > 0) {
      const frame = work[work.length - 1];
      const [node, i] = frame;
      const edges = [...(graph.get(node) ?? [])];
      if (i < edges.length) {
        frame[1]++;
        const to = edges[i];
        if (!index.has(to)) {
          index.set(to, counter);
          low.set(to, counter++);
          stack.push(to);
          onStack.add(to);
          work.push([to, 0]);
        } else if (onStack.has(to)) low.set(node, Math.min(low.get(node), index.get(to)));
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1][0];
        low.set(parent, Math.min(low.get(parent), low.get(node)));
      }
      if (low.get(node) === index.get(node)) {
        const members = [];
        let member;
        do {
          member = stack.pop();
          onStack.delete(member);
          members.push(member);
        } while (member !== node);
        if (members.length > 1) {
          for (const m of members) component.set(m, next);
          next++;
        }
      }
    }
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return component;
}

/** The shortest way from `from` back to `to` in the graph, for the message. */
function pathBetween(graph, from, to) {
  const previous = new Map([[from, null]]);
  const queue = [from];
  while (queue.length > 0) {
    const node = queue.shift();
    if (node === to) break;
    for (const next of graph.get(node) ?? []) {
      if (previous.has(next)) continue;
      previous.set(next, node);
      queue.push(next);
    }
  }
  if (!previous.has(to)) return [from, to];
  const path = [];
  for (let node = to; node !== null; node = previous.get(node)) path.unshift(node);
  return path;
}

const graphs = new Map();

/** The import graph of the project at `root`, between files and between folders, with their circles. */
export function projectGraph(root) {
  let graph = graphs.get(root);
  if (graph) return graph;
  const files = new Map();
  const folders = new Map();
  for (const base of CHECKED_ROOTS) {
    const dir = join(root, base);
    if (!existsSync(dir)) continue;
    for (const file of sourceFiles(dir)) {
      const rel = posix(relative(root, file));
      const targets = new Set();
      for (const specifier of importsOf(readFileSync(file, 'utf8'))) {
        const to = target(root, rel, specifier);
        if (to && to !== rel) targets.add(to);
      }
      files.set(rel, targets);
      const from = dirname(rel);
      for (const to of targets) {
        if (dirname(to) === from) continue;
        if (!folders.has(from)) folders.set(from, new Set());
        folders.get(from).add(dirname(to));
      }
    }
  }
  graph = { files, folders, fileCircles: components(files), folderCircles: components(folders) };
  graphs.set(root, graph);
  return graph;
}

const layers = {
  meta: {
    type: 'problem',
    docs: {
      description: 'Imports follow the layer order of eslint/layers.mjs, with no circle between files or folders',
    },
    schema: [],
  },
  create(context) {
    const root = context.cwd;
    const file = posix(relative(root, context.filename));
    if (file.startsWith('..')) return {};
    const own = layerOf(file);
    const graph = projectGraph(root);
    const check = (node, specifier) => {
      if (typeof specifier !== 'string') return;
      const report = (message) => context.report({ node, message });
      if (specifier === 'electron' && !electronPatterns.some((pattern) => pattern.test(file)))
        report(`${file} imports electron: only src-main/app/, src-main/transport/ipc.ts and the preload may`);
      if (
        file.startsWith('src-shared/') &&
        (specifier.startsWith('node:') ||
          (specifier.startsWith('.') && !resolve(root, dirname(file), specifier).startsWith(join(root, 'src-shared'))))
      ) {
        report(`src-shared stays environment-free: ${file} imports ${specifier}`);
      }
      const to = target(root, file, specifier);
      if (!to) return;
      if ((file.startsWith('src-renderer/') || file.startsWith('src-preload/')) && to.startsWith('src-main/'))
        report(`${file} imports ${to}: the renderer and the preload reach the main process only through the contract`);
      if (file.startsWith('src-main/') && to.startsWith('src-renderer/'))
        report(`${file} imports the renderer (${to})`);
      const theirs = layerOf(to);
      if (own && theirs && theirs.rank > own.rank)
        report(
          `${file} (layer ${own.name}) imports ${to} (layer ${theirs.name}): a layer imports only from lower layers (${LAYERS.map((l) => l.name).join(' < ')})`,
        );
      const circle = graph.fileCircles.get(file);
      if (circle !== undefined && graph.fileCircles.get(to) === circle)
        report(`import circle: ${pathBetween(graph.files, to, file).concat(to).join(' -> ')}`);
      const [fromDir, toDir] = [dirname(file), dirname(to)];
      const folderCircle = graph.folderCircles.get(fromDir);
      if (fromDir !== toDir && folderCircle !== undefined && graph.folderCircles.get(toDir) === folderCircle) {
        report(
          `folder circle: ${pathBetween(graph.folders, toDir, fromDir)
            .concat(toDir)
            .map((d) => `${d}/`)
            .join(' -> ')}`,
        );
      }
    };
    return {
      ImportDeclaration: (node) => check(node, node.source.value),
      ExportNamedDeclaration: (node) => node.source && check(node, node.source.value),
      ExportAllDeclaration: (node) => check(node, node.source.value),
      ImportExpression: (node) => node.source.type === 'Literal' && check(node, node.source.value),
    };
  },
};

export default { meta: { name: 'xaiws' }, rules: { layers } };
