/** The aggregation methods of the contract: the aggregate itself, concept edits, faithfulness as a job, exports and the report. */
import type { Job, ParsedRequest, Result } from '../../src-shared/contract.ts';
import type { Context } from '../runtime/context.ts';
import { addConceptEdit, aggregate, groupConcepts, labelNextFor, type AggregateContext } from './aggregation.ts';
import { findSentenceModel, WORDS_EMBEDDER } from './embed.ts';
import { normaliseTerm } from './embedding/text.ts';
import { faithfulnessTask } from './faithfulness.ts';
import { exportTable, tables } from './tables.ts';
import { exampleImage } from './images.ts';
import { writeFileSync } from 'node:fs';
import { reportHtml } from './report.ts';
import { StrategyReport } from '../../src-shared/schemas/strategies.ts';
import { TcavReport } from '../../src-shared/schemas/tcav.ts';

/** What aggregating needs of the workstation. */
export const aggregationOf = (ctx: Context): AggregateContext => ({
  project: ctx.project,
  pool: ctx.pool,
  cacheDir: ctx.cacheDir,
});

const fileStem = (ctx: Context) => ctx.project.name.replace(/[^\w.-]+/g, '_');

export const runAggregate = (
  ctx: Context,
  { sessionIds }: ParsedRequest<'aggregate.run'>,
): Promise<Result<'aggregate.run'>> => aggregate(aggregationOf(ctx), sessionIds);
export const conceptEdits = (ctx: Context): Result<'aggregate.edits'> => ctx.project.aggregate.edits();

/** The newest finished TCAV report of each model and dataset, and strategies of each class and method. */
function foundByJobs(ctx: Context): { tcav: TcavReport[]; strategies: StrategyReport[] } {
  const newest = <T>(
    kind: string,
    schema: { safeParse(v: unknown): { success: boolean; data?: T } },
    key: (r: T) => string,
  ) => {
    const seen = new Map<string, T>();
    const jobs = ctx.jobs
      .list()
      .filter((j) => j.kind === kind && j.status === 'done')
      .sort((a, b) => (b.finishedAt ?? '').localeCompare(a.finishedAt ?? ''));
    for (const job of jobs) {
      const parsed = schema.safeParse(job.result);
      if (parsed.success && !seen.has(key(parsed.data!))) seen.set(key(parsed.data!), parsed.data!);
    }
    return [...seen.values()];
  };
  return {
    tcav: newest<TcavReport>('tcav', TcavReport, (r) => `${r.modelId}:${r.datasetId}`),
    strategies: newest<StrategyReport>(
      'strategies',
      StrategyReport,
      (r) => `${r.modelId}:${r.datasetId}:${r.classIndex}:${r.method}`,
    ),
  };
}

/** The grouping of `aggregate.run` on a vocabulary: terms normalised the same way, each counted once. */
export async function groupTerms(
  ctx: Context,
  { terms }: ParsedRequest<'aggregate.groupTerms'>,
): Promise<Result<'aggregate.groupTerms'>> {
  const kept: string[] = [];
  const dropped: string[] = [];
  for (const line of terms) {
    const term = normaliseTerm(line, new Set());
    if (!term) dropped.push(line);
    else if (!kept.includes(term)) kept.push(term);
  }
  const spec = (ctx.hasProject ? findSentenceModel(ctx.project.path) : null) ?? WORDS_EMBEDDER;
  if (kept.length === 0) return { concepts: [], dropped, embedder: spec.name };
  const { automatic } = await groupConcepts(
    spec,
    kept.map((term) => ({ term, count: 1 })),
    ctx.cacheDir,
  );
  return {
    concepts: automatic
      .map((c) => ({ name: c.autoName, terms: c.terms }))
      .sort((a, b) => b.terms.length - a.terms.length || a.name.localeCompare(b.name)),
    dropped,
    embedder: spec.name,
  };
}
export const editConcept = (ctx: Context, edit: ParsedRequest<'aggregate.edit'>): Result<'aggregate.edit'> =>
  addConceptEdit(ctx.project, edit);
export const undoConceptEdit = (
  ctx: Context,
  { id }: ParsedRequest<'aggregate.undoEdit'>,
): Result<'aggregate.undoEdit'> => ({ removed: ctx.project.aggregate.removeEdits(id) });
export const labelNext = (
  ctx: Context,
  { sessionId }: ParsedRequest<'aggregate.labelNext'>,
): Promise<Result<'aggregate.labelNext'>> => labelNextFor(aggregationOf(ctx), sessionId);

export function startFaithfulness(ctx: Context, request: ParsedRequest<'aggregate.faithfulness'>): Job {
  return ctx.jobs.start(
    'faithfulness',
    'Faithfulness metrics of the labelled maps',
    request,
    faithfulnessTask(aggregationOf(ctx), request.sessionIds, request.steps),
  );
}

export const faithfulness = (
  ctx: Context,
  request: ParsedRequest<'aggregate.faithfulness'>,
): Result<'aggregate.faithfulness'> => ({ jobId: startFaithfulness(ctx, request).id });

export const examples = (
  ctx: Context,
  { itemUuids }: ParsedRequest<'aggregate.examples'>,
): Promise<Result<'aggregate.examples'>> =>
  Promise.all(
    itemUuids.map(async (itemUuid) => ({ itemUuid, src: await exampleImage(ctx.project, ctx.images, itemUuid) })),
  );

export async function exportAggregate(
  ctx: Context,
  { sessionIds, table, format }: ParsedRequest<'aggregate.export'>,
): Promise<Result<'aggregate.export'>> {
  const result = await aggregate(aggregationOf(ctx), sessionIds);
  return {
    filename: `${fileStem(ctx)}-${table}.${format}`,
    text: exportTable(result, table, format),
    rows: tables(result)[table].length,
  };
}

/** The HTML report; also written to `html` and printed to `pdf` when those paths are given. */
export async function report(
  ctx: Context,
  { sessionIds, pdf, html: htmlPath }: ParsedRequest<'aggregate.report'>,
): Promise<Result<'aggregate.report'>> {
  const html = await reportHtml(
    ctx.project,
    ctx.images,
    await aggregate(aggregationOf(ctx), sessionIds),
    foundByJobs(ctx),
  );
  if (htmlPath) writeFileSync(htmlPath, html);
  return { filename: `${fileStem(ctx)}-report.html`, html, pdf: pdf ? await ctx.printPdf(html, pdf) : null };
}
