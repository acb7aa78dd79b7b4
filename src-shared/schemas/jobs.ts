/** Long work: a job's state, and the execution providers the models run on. */
import { z } from 'zod';

export const JobKind = z.enum([
  'import',
  'inference',
  'explain',
  'metrics',
  'generative',
  'index',
  'faithfulness',
  'training',
  'benchmark',
  'map',
  'strategies',
  'tcav',
]);
export const JobStatus = z.enum(['queued', 'running', 'done', 'failed', 'cancelled', 'interrupted']);
export const Job = z.object({
  id: z.string(),
  kind: JobKind,
  status: JobStatus,
  title: z.string(),
  stage: z.string(),
  done: z.number().int(),
  total: z.number().int(),
  result: z.record(z.string(), z.unknown()).nullable(),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
  createdAt: z.string(),
  finishedAt: z.string().nullable(),
});
export type Job = z.infer<typeof Job>;

export const Providers = z.object({ available: z.array(z.string()), active: z.string() });
