/**
 * Concept clusters of label terms (Bianchi et al. 2024): agglomerative clustering of the terms with
 * complete linkage (ml-hclust) on the cosine distances of their unit vectors, corrected by WordNet
 * (wordnet.ts: synonyms together, different parts apart), the tree cut at CONCEPT_CUT; each cluster
 * named by its most central word, the word whose vector is closest to the cluster's count-weighted centroid. The analyst's edits (rename, merge,
 * split) are kept as operations on terms and replayed, in order, over every new clustering.
 */
import { agnes } from 'ml-hclust';
import type { ConceptEdit } from '../../../src-shared/schemas/aggregate.ts';
import { isStopWord, words } from './text.ts';

export const K_RANGE: [number, number] = [2, 40];
/** Two or fewer terms cannot be judged by silhouette; they share a cluster above this cosine similarity. */
export const PAIR_SIMILARITY = 0.7;

export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : 0;
}

export function cosineDistances(vectors: ArrayLike<number>[]): number[][] {
  const n = vectors.length;
  const d = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++)
    for (let j = i + 1; j < n; j++) d[i]![j] = d[j]![i] = Math.max(0, 1 - cosine(vectors[i]!, vectors[j]!));
  return d;
}

/** Mean silhouette from a distance matrix; a point alone in its cluster scores 0 (as scikit-learn does). */
export function silhouette(distances: number[][], assignment: number[]): number {
  const n = assignment.length;
  const k = Math.max(...assignment) + 1;
  const sizes = new Array<number>(k).fill(0);
  for (const c of assignment) sizes[c]!++;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const own = assignment[i]!;
    if (sizes[own]! <= 1) continue;
    const sums = new Array<number>(k).fill(0);
    for (let j = 0; j < n; j++) if (j !== i) sums[assignment[j]!]! += distances[i]![j]!;
    const a = sums[own]! / (sizes[own]! - 1);
    let b = Infinity;
    for (let c = 0; c < k; c++) if (c !== own && sizes[c]! > 0) b = Math.min(b, sums[c]! / sizes[c]!);
    const m = Math.max(a, b);
    total += m > 0 ? (b - a) / m : 0;
  }
  return total / n;
}

export interface Clustering {
  assignment: number[];
  k: number;
  silhouette: number | null;
}

export function clusterVectors(vectors: ArrayLike<number>[], kRange: [number, number] = K_RANGE): Clustering {
  return clusterDistances(cosineDistances(vectors), kRange);
}

/** How two terms relate in WordNet (wordnet.ts), for `termDistances`. */
export type TermRelation = (a: string, b: string) => 'same' | 'broader' | 'distinct' | 'unknown';

/** The distance of synonyms; of terms one of which is a kind of the other, at most; of distinct known words, at least. */
export const RELATION_DISTANCE = { same: 0.05, broader: 0.3, distinct: 0.8 };

/**
 * Where the complete-linkage tree of corrected distances is cut: no two terms of a concept further
 * apart than this. On the garment vocabulary (docs/AGGREGATION.md) cuts from 0.3 to 0.7 score within
 * 0.03 of each other; the silhouette's k, which cut the uncorrected tree into 2 concepts, is not used.
 */
export const CONCEPT_CUT = 0.5;

/** Concepts of label terms: their vectors' distances corrected by WordNet, cut at CONCEPT_CUT. */
export function groupTerms(terms: string[], vectors: ArrayLike<number>[], relation: TermRelation): Clustering {
  return clusterDistances(termDistances(terms, vectors, relation), K_RANGE, CONCEPT_CUT);
}

/**
 * Cosine distances of the terms' vectors, corrected by WordNet where it knows both terms: synonyms
 * close, a kind and its kind close enough, two different things (co-hyponyms: collar and sleeve) far,
 * however alike their contexts make their vectors.
 */
export function termDistances(terms: string[], vectors: ArrayLike<number>[], relation: TermRelation): number[][] {
  const d = cosineDistances(vectors);
  for (let i = 0; i < terms.length; i++)
    for (let j = i + 1; j < terms.length; j++) {
      const r = relation(terms[i]!, terms[j]!);
      let v = d[i]![j]!;
      if (r === 'same') v = RELATION_DISTANCE.same;
      else if (r === 'broader') v = Math.min(v, RELATION_DISTANCE.broader);
      else if (r === 'distinct') v = Math.max(v, RELATION_DISTANCE.distinct);
      d[i]![j] = d[j]![i] = v;
    }
  return d;
}

/**
 * Complete-linkage clusters of a distance matrix. `cut`: the tree cut where no two terms of a cluster
 * are further apart than it; otherwise k by the mean silhouette over `kRange`.
 */
export function clusterDistances(distances: number[][], kRange: [number, number] = K_RANGE, cut?: number): Clustering {
  const n = distances.length;
  if (n === 0) return { assignment: [], k: 0, silhouette: null };
  if (n === 1) return { assignment: [0], k: 1, silhouette: null };
  if (n === 2) {
    const together = distances[0]![1]! <= (cut ?? 1 - PAIR_SIMILARITY);
    return { assignment: together ? [0, 0] : [0, 1], k: together ? 1 : 2, silhouette: null };
  }
  const tree = agnes(distances, { isDistanceMatrix: true, method: 'complete' });
  if (cut !== undefined) {
    const assignment = new Array<number>(n).fill(0);
    tree.cut(cut).forEach((child, cluster) => {
      for (const i of child.indices()) assignment[i] = cluster;
    });
    const k = Math.max(...assignment) + 1;
    return canonical({ assignment, k, silhouette: k > 1 && k < n ? silhouette(distances, assignment) : null });
  }
  let best: Clustering | null = null;
  for (let k = kRange[0]; k <= Math.min(kRange[1], n - 1); k++) {
    const assignment = new Array<number>(n).fill(0);
    tree.group(k).children.forEach((child, cluster) => {
      for (const i of child.indices()) assignment[i] = cluster;
    });
    const score = silhouette(distances, assignment);
    if (!best || score > best.silhouette! + 1e-12) best = { assignment, k, silhouette: score };
  }
  return canonical(best!);
}

/** Cluster numbers in order of each cluster's first member, so the same input always reads the same. */
function canonical(c: Clustering): Clustering {
  const order = new Map<number, number>();
  const assignment = c.assignment.map((a) => {
    if (!order.has(a)) order.set(a, order.size);
    return order.get(a)!;
  });
  return { ...c, assignment };
}

/** The candidate names of a cluster: the non-stop words of its terms, with their label counts. */
export function candidateWords(terms: { term: string; count: number }[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const { term, count } of terms)
    for (const w of words(term)) if (!isStopWord(w)) out.set(w, (out.get(w) ?? 0) + count);
  return out;
}

/** The word closest (cosine) to the count-weighted centroid of the terms; ties go to the commoner word, then the alphabet. */
export function centralWord(
  terms: { term: string; count: number; vector: ArrayLike<number> }[],
  wordVector: (word: string) => ArrayLike<number> | undefined,
): string {
  const dims = terms[0]!.vector.length;
  const centroid = new Float64Array(dims);
  for (const t of terms) for (let d = 0; d < dims; d++) centroid[d]! += t.count * t.vector[d]!;
  let best: { word: string; similarity: number; count: number } | null = null;
  for (const [word, count] of candidateWords(terms)) {
    const v = wordVector(word);
    const similarity = v ? cosine(centroid, v) : -1;
    if (
      !best ||
      similarity > best.similarity + 1e-9 ||
      (Math.abs(similarity - best.similarity) <= 1e-9 &&
        (count > best.count || (count === best.count && word < best.word)))
    ) {
      best = { word, similarity, count };
    }
  }
  return best?.word ?? terms[0]!.term;
}

export interface ConceptCluster {
  terms: string[];
  autoName: string;
  name: string;
  edited: boolean;
}

export interface ReplayResult {
  clusters: ConceptCluster[];
  /** Edits that named no term of this clustering (the labels behind them are gone). */
  stale: number;
}

/**
 * Replays the analyst's edits over automatic clusters. An edit names terms, not cluster numbers, so it
 * keeps its meaning when new labels change the automatic clustering.
 */
export function replayEdits(
  automatic: { terms: string[]; autoName: string }[],
  edits: readonly ConceptEdit[],
  nameOf: (terms: string[]) => string,
): ReplayResult {
  let clusters: ConceptCluster[] = automatic.map((c) => ({
    terms: [...c.terms],
    autoName: c.autoName,
    name: c.autoName,
    edited: false,
  }));
  let stale = 0;
  const holding = (term: string) => clusters.findIndex((c) => c.terms.includes(term));
  for (const edit of edits) {
    if (edit.op === 'rename') {
      const at = holding(edit.term);
      if (at < 0) stale++;
      else clusters[at] = { ...clusters[at]!, name: edit.name, edited: true };
    } else if (edit.op === 'merge') {
      const indices = [...new Set(edit.terms.map(holding).filter((i) => i >= 0))].sort((a, b) => a - b);
      if (indices.length < 2) {
        stale++;
        continue;
      }
      const [first, ...rest] = indices.map((i) => clusters[i]!);
      const merged: ConceptCluster = { ...first!, terms: [first!, ...rest].flatMap((c) => c.terms), edited: true };
      clusters = clusters.filter((_, i) => !indices.includes(i));
      clusters.splice(indices[0]!, 0, merged);
    } else {
      const moving = edit.terms.filter((t) => holding(t) >= 0);
      if (moving.length === 0) {
        stale++;
        continue;
      }
      clusters = clusters
        .map((c) => {
          const terms = c.terms.filter((t) => !moving.includes(t));
          if (terms.length === c.terms.length || terms.length === 0) return { ...c, terms };
          // A cluster that lost terms is named again, unless the analyst named it.
          const autoName = nameOf(terms);
          return { ...c, terms, autoName, name: c.name === c.autoName ? autoName : c.name, edited: true };
        })
        .filter((c) => c.terms.length > 0);
      const autoName = nameOf(moving);
      clusters.push({ terms: moving, autoName, name: edit.name || autoName, edited: true });
    }
  }
  return { clusters, stale };
}
