/**
 * Scoring of answers: gold checks, the reveal game's score, and the participants' points, streaks and
 * levels. Policy:
 * - Reveal score (Bianchi et al. 2024): 1 - 0.1 x the step at which the player answered (1 to 6 for
 *   the 2 ... 30 % reveals), divided by 4 when the guess is wrong, 0 when the player resigned. It is
 *   the weight a concept label typed in that game carries in the global explanations.
 * - Reliability: (gold correct + 1) / (gold answered + 2), a smoothed gold accuracy that starts at 0.5.
 * - Points per answer: 10 x reliability (careful annotators earn more), plus 10 x the reveal score,
 *   plus the current streak (capped at 10). A streak counts answers since the last wrong gold item.
 * - Levels: one per 100 points.
 */
import type { Answer } from '../../src-shared/schemas/labels.ts';
import { REVEAL_PERCENTS } from '../../src-shared/schemas/labels.ts';

export type GoldAnswer =
  | { type: 'rating'; maxJustifies: number; reason: string }
  | { type: 'pairwise'; choice: 'a' | 'b'; reason: string }
  | { type: 'reveal'; classIndex: number; reason: string };

export function goldCorrect(gold: GoldAnswer, answer: Answer): boolean {
  if (gold.type !== answer.type) return false;
  if (gold.type === 'rating' && answer.type === 'rating') return answer.scores.justifies <= gold.maxJustifies;
  if (gold.type === 'pairwise' && answer.type === 'pairwise') return answer.choice === gold.choice;
  if (gold.type === 'reveal' && answer.type === 'reveal') return !answer.resigned && answer.guess === gold.classIndex;
  return false;
}

/** The reveal game's score for an answer given at step `step` (0-based index into REVEAL_PERCENTS). */
export function revealScore(step: number, correct: boolean, resigned: boolean): number {
  if (resigned) return 0;
  const shown = Math.min(Math.max(step, 0), REVEAL_PERCENTS.length - 1) + 1;
  const score = 1 - 0.1 * shown;
  return correct ? score : score / 4;
}

export function reliability(goldCorrectCount: number, goldAnswered: number): number {
  return (goldCorrectCount + 1) / (goldAnswered + 2);
}

export function pointsFor(reliabilityWeight: number, streak: number, revealScoreValue: number | null): number {
  const base = 10 * reliabilityWeight + (revealScoreValue === null ? 0 : 10 * revealScoreValue) + Math.min(streak, 10);
  return Math.round(base * 10) / 10;
}

export const POINTS_PER_LEVEL = 100;

export function levelOf(points: number): { level: number; toNextLevel: number } {
  const level = Math.floor(points / POINTS_PER_LEVEL) + 1;
  return { level, toNextLevel: Math.round((level * POINTS_PER_LEVEL - points) * 10) / 10 };
}

/** Streak at the end of a seat's answers in time order: answers since the last wrong gold one. */
export function streakOf(correctness: readonly (number | null)[]): number {
  let streak = 0;
  for (const correct of correctness) streak = correct === 0 ? 0 : streak + 1;
  return streak;
}

/** A short line for the history list. */
export function summarise(answer: Answer, classes: readonly string[]): string {
  switch (answer.type) {
    case 'rating':
      return `justifies ${answer.scores.justifies}, predictable ${answer.scores.predictable}${answer.comment ? ` · “${answer.comment.slice(0, 40)}”` : ''}`;
    case 'pairwise':
      return answer.choice === 'neither' ? 'neither' : answer.choice === 'a' ? 'left' : 'right';
    case 'concept':
      return [answer.text, ...answer.concepts].filter(Boolean).join(', ').slice(0, 60) || '(empty)';
    case 'reveal':
      return answer.resigned
        ? 'resigned'
        : `guess ${answer.guess === null ? '—' : (classes[answer.guess] ?? answer.guess)}${answer.text ? ` · ${answer.text.slice(0, 40)}` : ''}`;
  }
}
