/// <reference path="./vendor.d.ts" />
/**
 * Turning free-text concept labels into terms (Bianchi et al. 2024, label processing): split a typed
 * answer into phrases, lower-case them, drop punctuation, stop words and the class names, and lemmatise
 * each word with WordNet (wink-lemmatizer: noun, then adjective; "stripes" -> "stripe",
 * "darker" -> "dark"). A phrase that is left empty (it only named the class) is not a label.
 */
import lemmatizer from 'wink-lemmatizer';
import { eng } from 'stopword';

const STOP = new Set([
  ...eng,
  'a',
  'the',
  'it',
  'its',
  'of',
  'this',
  'that',
  'there',
  'some',
  'very',
  'thing',
  'things',
  'something',
  'looks',
  'look',
  'like',
]);

/** Phrases of one typed answer: split on commas, semicolons, slashes, "and"/"&", "+" and line breaks. */
export function phrases(text: string): string[] {
  return text
    .split(/[,;/\n+&]|\band\b/i)
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
}

export function lemma(word: string): string {
  const noun = lemmatizer.noun(word);
  if (noun !== word) return noun;
  return lemmatizer.adjective(word);
}

export function words(phrase: string): string[] {
  return phrase
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^a-z0-9\s-]/g, ' ')
    .split(/[\s-]+/)
    .filter((w) => w.length > 0);
}

export function isStopWord(word: string): boolean {
  return STOP.has(word) || /^\d+$/.test(word);
}

/** Words of the class names, with their lemmas ("T-shirt/top" -> t, shirt, top; "Sneakers" -> sneaker). */
export function classWords(classNames: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const name of classNames) for (const w of words(name)) if (w.length > 1) out.add(w).add(lemma(w));
  return out;
}

/** The normalised term of a phrase, or null when nothing is left once class names and stop words are gone. */
export function normaliseTerm(phrase: string, classes: Set<string>): string | null {
  const kept = words(phrase)
    .filter((w) => !isStopWord(w) && !classes.has(w))
    .map(lemma)
    .filter((w) => !classes.has(w) && !isStopWord(w) && w.length > 1);
  return kept.length ? kept.join(' ') : null;
}

/** Every term of one answer: typed text split into phrases, plus the concepts picked from the session's list. */
export function termsOf(text: string, picks: readonly string[], classes: Set<string>): string[] {
  const out: string[] = [];
  for (const p of [...phrases(text), ...picks]) {
    const term = normaliseTerm(p, classes);
    if (term && !out.includes(term)) out.push(term);
  }
  return out;
}
