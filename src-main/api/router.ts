/**
 * The router: validates a call against the contract, runs its handler, validates the result, and
 * wraps both outcomes in the envelope every transport sends. Each handler is its service function.
 */
import { methods, type MethodName } from '../../src-shared/contract.ts';
import { ApiError, toApiError, type Envelope } from '../../src-shared/errors.ts';
import type { Context } from '../runtime/context.ts';
import { handlers } from './handlers.ts';

export type Dispatch = (method: string, request: unknown) => Promise<Envelope<unknown>>;

export function createRouter(ctx: Context): Dispatch {
  return async (method, request) => {
    try {
      if (!Object.hasOwn(methods, method)) throw new ApiError('unknown_method', `Unknown API method "${method}"`);
      const name = method as MethodName;
      const parsed = methods[name].request.safeParse(request ?? {});
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        throw new ApiError('invalid_request', `${name}: ${issue.path.join('.') || 'request'} ${issue.message}`);
      }
      const handler = handlers[name] as (ctx: Context, request: unknown) => unknown;
      const value = await handler(ctx, parsed.data);
      const checked = methods[name].result.safeParse(value);
      if (!checked.success) {
        // A result that breaks its own contract is a bug here, not the user's; say so in words, never as a raw schema dump.
        const issue = checked.error.issues[0]!;
        process.stderr.write(
          `xaiws: ${name} returned an invalid result at ${issue.path.join('.') || 'result'}: ${issue.message}\n`,
        );
        throw new ApiError(
          'internal',
          `The workstation computed a result for ${name} that it cannot show (${issue.path.join('.') || 'result'}: ${issue.message}). This is a bug in XAI Workstation; nothing was changed.`,
        );
      }
      return { ok: true, value: checked.data };
    } catch (error) {
      // A write to a project opened read-only reaches SQLite only as SQLITE_READONLY: say what it means.
      const code = (error as { code?: unknown }).code;
      if (typeof code === 'string' && code.startsWith('SQLITE_READONLY'))
        return { ok: false, error: toApiError(ctx.readOnlyError() ?? error) };
      return { ok: false, error: toApiError(error) };
    }
  };
}
