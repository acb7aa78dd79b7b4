/**
 * Label records as collect.ts makes them, for the aggregation tests: one per answer, with the fields each test sets.
 */
import type { Answer } from '../../src-shared/schemas/labels.ts';
import type { LabelRecord } from '../../src-main/aggregate/collect.ts';

let counter = 0;
export function record(fields: Partial<LabelRecord> & { answer: Answer }): LabelRecord {
  counter++;
  return {
    sessionId: 1,
    itemUuid: `item-${counter}`,
    taskType: fields.answer.type,
    imageId: counter,
    methods: ['gradcam'],
    kinds: ['cam'],
    layers: ['conv1'],
    layer: 'conv1',
    modelHash: 'h',
    classIndex: 0,
    className: 'Shirt',
    annotator: 'a1',
    annotatorName: 'Ana',
    reliability: 1,
    correct: null,
    revealScore: null,
    terms: [],
    text: '',
    ...fields,
  };
}
export const rating = (justifies: number, extra: Partial<LabelRecord> = {}) =>
  record({ answer: { type: 'rating', scores: { justifies, predictable: justifies }, comment: '' }, ...extra });
export const pair = (a: string, b: string, choice: 'a' | 'b' | 'neither', extra: Partial<LabelRecord> = {}) =>
  record({
    answer: { type: 'pairwise', choice },
    methods: [a, b],
    kinds: ['cam', 'cam'],
    layers: ['conv1', 'conv1'],
    ...extra,
  });
