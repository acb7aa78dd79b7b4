/**
 * The concept grouping against the vocabulary grouped by hand (test/fixtures/concepts): the adjusted
 * Rand index of the word vectors alone and of the vectors corrected by WordNet, for the silhouette's k
 * and for tree cuts. Run: node --import tsx bench/concept-grouping.ts
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { embedWords, loadWordTable } from '../src-main/aggregate/embedding/embedders.ts';
import {
  clusterDistances,
  CONCEPT_CUT,
  cosineDistances,
  termDistances,
} from '../src-main/aggregate/embedding/cluster.ts';
import { normaliseTerm } from '../src-main/aggregate/embedding/text.ts';
import { WordNet } from '../src-main/aggregate/embedding/wordnet.ts';
import { adjustedRand } from '../test/support/stats.ts';

const vocabulary = JSON.parse(readFileSync('test/fixtures/concepts/garment-vocabulary.json', 'utf8')).groups as {
  name: string;
  terms: string[];
}[];
const terms: string[] = [];
const truth: number[] = [];
vocabulary.forEach((group, g) =>
  group.terms.forEach((raw) => {
    const term = normaliseTerm(raw, new Set());
    if (term && !terms.includes(term)) {
      terms.push(term);
      truth.push(g);
    }
  }),
);
const table = loadWordTable(process.env.XAIWS_CACHE ?? join(homedir(), '.cache', 'xaiws'));
const { vectors } = embedWords(table, terms);
const wordnet = WordNet.open();
const plain = cosineDistances(vectors);
const corrected = termDistances(terms, vectors, (a, b) => wordnet.relation(a, b));
const rows: { grouping: string; concepts: number; ari: number }[] = [];
const add = (grouping: string, c: { assignment: number[]; k: number }) =>
  rows.push({ grouping, concepts: c.k, ari: Number(adjustedRand(c.assignment, truth).toFixed(3)) });
add('vectors, silhouette 2..40', clusterDistances(plain));
add('vectors, silhouette 2..100', clusterDistances(plain, [2, 100]));
add('vectors + WordNet, silhouette 2..100', clusterDistances(corrected, [2, 100]));
for (const cut of [0.3, 0.4, 0.5, 0.6, 0.7]) {
  add(`vectors, cut ${cut}`, clusterDistances(plain, undefined, cut));
  add(
    `vectors + WordNet, cut ${cut}${cut === CONCEPT_CUT ? ' (the app)' : ''}`,
    clusterDistances(corrected, undefined, cut),
  );
}
console.log(JSON.stringify({ terms: terms.length, concepts: vocabulary.length, rows }, null, 2));
