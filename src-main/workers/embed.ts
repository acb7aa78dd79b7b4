/**
 * Embedding worker (a process of its own, one per call): embeds label terms with the chosen embedder
 * (aggregate/embedding/embedders.ts) and clusters them (aggregate/embedding/cluster.ts), off the main process: a sentence
 * model is a user's ONNX file, and complete linkage is cubic in the number of terms.
 */
import { clusterVectors } from '../aggregate/embedding/cluster.ts';
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
        clustering: cluster ? clusterVectors(vectors.slice(0, cluster)) : null,
      };
    }
    const { vectors, dimensions } = await embedSentences(embedder.model, embedder.tokenizer, texts);
    return {
      vectors,
      dimensions,
      known: vectors.map(() => true),
      clustering: cluster ? clusterVectors(vectors.slice(0, cluster)) : null,
    };
  },
});
