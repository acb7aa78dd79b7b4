/**
 * The image browser's filters: what the grid, the selection jobs and labelling sessions take as "the
 * filtered images". Their types come from the contract; '' means "any".
 */
import { Correctness, ImageSort, type Dataset } from '../../src-shared/contract.ts';

export interface Filters {
  trueClass: string;
  predictedClass: string;
  split: string;
  correctness: Correctness;
  confidenceMin: number;
  confidenceMax: number;
  sort: ImageSort;
  /** Only these images (a lasso on the dataset map, an image's neighbours), or null for any. */
  imageIds: number[] | null;
  /** What the selection is, in words ("312 images lassoed on the map"). */
  selection: string;
}

export const SELECTION_LIMIT = 100_000;

export const NO_FILTERS: Filters = {
  trueClass: '',
  predictedClass: '',
  split: '',
  correctness: 'all',
  confidenceMin: 0,
  confidenceMax: 1,
  sort: 'id',
  imageIds: null,
  selection: '',
};

const SORTS: readonly ImageSort[] = ImageSort.options;
const CORRECTNESS: readonly Correctness[] = Correctness.options;

/** Filters read back from storage, field by field; anything that is not a filter of this dataset is dropped. */
export function filtersFrom(
  value: unknown,
  dataset: Pick<Dataset, 'classes' | 'splits'> | null,
  modelClasses: readonly string[],
): Filters {
  const v = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const text = (x: unknown, allowed: readonly string[]) => (typeof x === 'string' && allowed.includes(x) ? x : '');
  const unit = (x: unknown, fallback: number) => (typeof x === 'number' && x >= 0 && x <= 1 ? x : fallback);
  return {
    trueClass: text(v.trueClass, dataset?.classes ?? []),
    predictedClass: text(v.predictedClass, modelClasses),
    split: text(v.split, dataset?.splits ?? []),
    correctness: CORRECTNESS.includes(v.correctness as Correctness) ? (v.correctness as Correctness) : 'all',
    confidenceMin: unit(v.confidenceMin, 0),
    confidenceMax: unit(v.confidenceMax, 1),
    sort: SORTS.includes(v.sort as ImageSort) ? (v.sort as ImageSort) : 'id',
    ...selectionFrom(v.imageIds, v.selection),
  };
}

function selectionFrom(ids: unknown, name: unknown): Pick<Filters, 'imageIds' | 'selection'> {
  const valid =
    Array.isArray(ids) &&
    ids.length <= SELECTION_LIMIT &&
    ids.every((id) => typeof id === 'number' && Number.isInteger(id) && id > 0);
  return valid
    ? { imageIds: ids as number[], selection: typeof name === 'string' ? name.slice(0, 200) : `${ids.length} images` }
    : { imageIds: null, selection: '' };
}
