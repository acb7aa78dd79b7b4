/**
 * `xaiws aggregate` (the global-explanation tables as JSON, one table as CSV/JSON, or every table into a
 * folder) and `xaiws report` (the self-contained HTML report, and a PDF of it).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { AGGREGATE_TABLES, AggregateTable } from '../../src-shared/schemas/aggregate.ts';
import type { MethodName, Request, Result } from '../../src-shared/contract.ts';
import { ApiError } from '../../src-shared/errors.ts';
import { exportTable } from '../aggregate/tables.ts';
import { RawOutput } from './labels.ts';

interface Client {
  call<M extends MethodName>(method: M, request: Request<M>): Promise<Result<M>>;
}
type Values = Record<string, string | boolean | undefined>;

export function sessionList(value: string | boolean | undefined): number[] | undefined {
  if (typeof value !== 'string') return undefined;
  return value.split(',').map((part) => {
    const id = Number(part.trim());
    if (!Number.isInteger(id) || id < 1)
      throw new ApiError('invalid_request', `--session takes session ids separated by commas (got "${value}")`);
    return id;
  });
}

export async function aggregateCommand(
  client: Client,
  command: 'aggregate' | 'report',
  projectPath: string,
  values: Values,
  waitFor: (jobId: string) => Promise<unknown>,
): Promise<unknown> {
  const sessionIds = sessionList(values.session);
  if (values.faithfulness) await waitFor((await client.call('aggregate.faithfulness', { sessionIds })).jobId);
  if (command === 'report') {
    const pdf = typeof values.pdf === 'string' ? resolve(values.pdf) : undefined;
    const report = await client.call('aggregate.report', { sessionIds, pdf });
    const out =
      typeof values.out === 'string' ? resolve(values.out) : join(dirname(resolve(projectPath)), report.filename);
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, report.html);
    return { html: out, bytes: Buffer.byteLength(report.html), pdf: report.pdf };
  }
  if (typeof values.table === 'string') {
    const table = AggregateTable.safeParse(values.table);
    if (!table.success)
      throw new ApiError(
        'invalid_request',
        `--table must be one of ${AGGREGATE_TABLES.join(', ')} (got "${values.table}")`,
      );
    const format = values.format === undefined ? 'csv' : values.format;
    if (format !== 'csv' && format !== 'json')
      throw new ApiError('invalid_request', `--format must be csv or json (got "${String(format)}")`);
    return new RawOutput((await client.call('aggregate.export', { sessionIds, table: table.data, format })).text);
  }
  const result = await client.call('aggregate.run', { sessionIds });
  if (typeof values.out === 'string') {
    const dir = resolve(values.out);
    mkdirSync(dir, { recursive: true });
    const files = [join(dir, 'aggregate.json')];
    writeFileSync(files[0]!, JSON.stringify(result, null, 2));
    for (const table of AGGREGATE_TABLES) {
      const file = join(dir, `${table}.csv`);
      writeFileSync(file, exportTable(result, table, 'csv'));
      files.push(file);
    }
    return { dir, files };
  }
  return result;
}
