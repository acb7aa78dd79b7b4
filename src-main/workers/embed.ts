/**
 * Embedding worker (a process of its own, one per call): embeds label terms with the chosen embedder
 * (aggregate/embedding/embedders.ts) and groups them into concepts with WordNet's help
 * (aggregate/embedding/cluster.ts, wordnet.ts), off the main process: a sentence model is a user's ONNX
 * file, and complete linkage is cubic in the number of terms.
 */
import { groupTerms } from '../aggregate/embedding/cluster.ts';
import { WordNet } from '../aggregate/embedding/wordnet.ts';
import { embedSentences, embedWords, loadWordTable } from '../aggregate/embedding/embedders.ts';
import type { EmbedProtocol } from './protocols.ts';
import { serve } from './serve.ts';

serve<EmbedProtocol>({
  async embed({ embedder, texts, cluster }) {
    if (embedder.kind === 'words') {
      const table = loadWordTable(embedder.cacheDir);
      const { vectors, known } = embedWords(table, texts);
      return {
        vectors,
        dimensions: table.dims,
        known,
        clustering: cluster ? group(texts.slice(0, cluster), vectors.slice(0, cluster)) : null,
      };
    }
    const { vectors, dimensions } = await embedSentences(embedder.model, embedder.tokenizer, texts);
    return {
      vectors,
      dimensions,
      known: vectors.map(() => true),
      clustering: cluster ? group(texts.slice(0, cluster), vectors.slice(0, cluster)) : null,
    };
  },
});

function group(terms: string[], vectors: Float32Array[]) {
  const wordnet = WordNet.open();
  try {
    return groupTerms(terms, vectors, (a, b) => wordnet.relation(a, b));
  } finally {
    wordnet.close();
  }
}
