/** The app and its projects: version and providers, creating, opening and the recent list. */
import type { ParsedRequest, Result } from '../../src-shared/contract.ts';
import type { Context } from '../runtime/context.ts';

export const VERSION = '0.1.0';

export const appInfo = (ctx: Context): Result<'app.info'> => ({
  version: VERSION,
  transport: ctx.options.transport,
  providers: ctx.pool.provider,
  nativeDialogs: ctx.dialogs !== null,
});
export const createProject = (
  ctx: Context,
  { path, name }: ParsedRequest<'projects.create'>,
): Promise<Result<'projects.create'>> => ctx.createProject(path, name);
export const openProject = (ctx: Context, { path }: ParsedRequest<'projects.open'>): Promise<Result<'projects.open'>> =>
  ctx.openProject(path);
export const openDemo = (
  ctx: Context,
  { demo }: ParsedRequest<'projects.openDemo'>,
): Promise<Result<'projects.openDemo'>> => ctx.openDemo(demo);
export const currentProject = (ctx: Context): Result<'projects.current'> =>
  ctx.hasProject ? ctx.project.summary() : null;
export const recentProjects = (ctx: Context): Result<'projects.recent'> => ctx.recent();
