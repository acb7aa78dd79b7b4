/**
 * The system's file dialogs, for the desktop app's renderer: files are chosen there, never typed. The
 * browser host and the CLI have none (a web page cannot show the desktop's dialogs); their views
 * keep typed paths, and these calls say so by name.
 */
import type { ParsedRequest, Result } from '../../src-shared/contract.ts';
import { ApiError } from '../../src-shared/errors.ts';
import type { Context, DialogRuntime } from '../runtime/context.ts';

function dialogsOf(ctx: Context): DialogRuntime {
  if (!ctx.dialogs)
    throw new ApiError(
      'invalid_request',
      'The system file dialogs exist only in the desktop app; type the path instead',
    );
  return ctx.dialogs;
}

export const openDialog = async (
  ctx: Context,
  { purpose }: ParsedRequest<'dialogs.open'>,
): Promise<Result<'dialogs.open'>> => ({ path: await dialogsOf(ctx).open(purpose) });

export const saveDialog = async (
  ctx: Context,
  { purpose, defaultName }: ParsedRequest<'dialogs.save'>,
): Promise<Result<'dialogs.save'>> => ({
  path: await dialogsOf(ctx).save(purpose, defaultName),
});
