/**
 * The participant page's client of the crowd host: typed by the participant method table
 * (src-shared/participant.ts), so a call names a method of that table with its request and gets its
 * result type. A failure is a ParticipantError with the host's code, or `network` when it does not answer.
 */
import type { ParticipantMethod, ParticipantRequest, ParticipantResult } from '../../src-shared/participant.ts';

export class ParticipantError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export async function callHost<M extends ParticipantMethod>(
  method: M,
  request: ParticipantRequest<M>,
  token?: string,
): Promise<ParticipantResult<M>> {
  let response: Response;
  try {
    response = await fetch(`/api/${method}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(request),
    });
  } catch (error) {
    throw new ParticipantError(
      'network',
      `The session host does not answer (${(error as Error).message}); your answers so far are saved. Retrying…`,
    );
  }
  const envelope = (await response.json().catch(() => null)) as
    { ok: true; value: ParticipantResult<M> } | { ok: false; error: { code: string; message: string } } | null;
  if (!envelope) throw new ParticipantError('network', `The session host answered ${response.status} without a result`);
  if (!envelope.ok) throw new ParticipantError(envelope.error.code, envelope.error.message);
  return envelope.value;
}
