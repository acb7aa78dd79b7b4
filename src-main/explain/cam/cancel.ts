import { ApiError } from '../../../src-shared/errors.ts';

/** Ends an explanation between model runs once its signal is aborted. */
export function throwIfCancelled(signal?: AbortSignal): void {
  if (signal?.aborted) throw new ApiError('cancelled', 'The explanation was cancelled');
}
