/**
 * Errors that cross the API boundary. Every failure a user can see carries a stable snake_case code
 * (for programs and tests) and a sentence a person can act on that names the offending value.
 */
export const ERROR_CODES = [
  'invalid_request',
  'unknown_method',
  'unauthorised',
  'no_project',
  'project_not_found',
  'project_exists',
  'project_too_new',
  'project_corrupt',
  'project_untrusted',
  'project_read_only',
  'source_not_found',
  'source_unsupported',
  'image_not_found',
  'image_changed',
  'dataset_not_found',
  'model_not_found',
  'model_invalid',
  'model_exists',
  'manifest_invalid',
  'model_shape_mismatch',
  'model_changed',
  'model_unsupported_op',
  'layer_not_found',
  'bundle_invalid',
  'bundle_too_new',
  'bundle_file_missing',
  'bundle_hash_mismatch',
  'bundle_not_found',
  'explainer_missing',
  'index_missing',
  'job_not_found',
  'annotator_not_found',
  'session_not_found',
  'task_not_found',
  'session_paused',
  'session_ended',
  'seat_removed',
  'join_refused',
  'session_full',
  'no_explanations',
  'pack_invalid',
  'too_large',
  'no_labels',
  'concept_not_found',
  'pdf_unavailable',
  'cancelled',
  'confirmation_needed',
  'worker_crashed',
  'python_missing',
  'training_failed',
  'out_of_memory',
  'timed_out',
  'internal',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ApiErrorShape {
  code: ErrorCode;
  message: string;
  /** What a program needs to act on the error (e.g. the offending rows of a pack), when there is more than the message. */
  value?: unknown;
}

export class ApiError extends Error implements ApiErrorShape {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly value?: unknown,
    /** What caused it, for logs (never sent over a transport). */
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'ApiError';
  }

  toJSON(): ApiErrorShape {
    return this.value === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, value: this.value };
  }
}

/** Turns anything thrown into the {code, message, value?} shape that crosses a transport. */
export function toApiError(error: unknown): ApiErrorShape {
  if (error instanceof ApiError || isApiErrorShape(error))
    return error.value === undefined
      ? { code: error.code, message: error.message }
      : { code: error.code, message: error.message, value: error.value };
  const message = error instanceof Error ? error.message : String(error);
  return { code: 'internal', message: message || 'Unexpected internal error' };
}

export function isApiErrorShape(value: unknown): value is ApiErrorShape {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as ApiErrorShape).message === 'string' &&
    (ERROR_CODES as readonly string[]).includes((value as ApiErrorShape).code)
  );
}

/** The envelope every call returns, whatever the transport. */
export type Envelope<T> = { ok: true; value: T } | { ok: false; error: ApiErrorShape };
