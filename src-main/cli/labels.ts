/**
 * `xaiws labels ...` and `xaiws agreement ...`: export a session's answers, build and merge annotator
 * packs, and agreement figures of a session or of any item,annotator,value table an analyst brings.
 */
import { MiB, readBoundedSync } from '../io/files.ts';
import { resolve } from 'node:path';
import { parse } from 'csv-parse/sync';
import type { MethodName, Request, Result } from '../../src-shared/contract.ts';
import { ApiError } from '../../src-shared/errors.ts';
import { agreement, leaveOneOut, type Level, type Rating } from '../labels/agreement.ts';

interface Client {
  call<M extends MethodName>(method: M, request: Request<M>): Promise<Result<M>>;
}

type Values = Record<string, string | boolean | undefined>;
type NumberArg = (value: string | boolean | undefined, what: string) => number;

/** Output that goes to stdout as it is (CSV, JSON Lines), not as JSON. */
export class RawOutput {
  constructor(readonly text: string) {}
}

const LEVELS: readonly Level[] = ['nominal', 'ordinal', 'interval'];

function level(value: string | boolean | undefined): Level {
  if (value === undefined) return 'ordinal';
  if (typeof value !== 'string' || !LEVELS.includes(value as Level))
    throw new ApiError('invalid_request', `--level must be nominal, ordinal or interval (got "${String(value)}")`);
  return value as Level;
}

function samples(values: Values): number {
  if (values.samples === undefined) return 1000;
  const parsed = Number(values.samples);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 100000)
    throw new ApiError(
      'invalid_request',
      `--samples must be a whole number from 0 to 100000 (got "${String(values.samples)}")`,
    );
  return parsed;
}

/** A CSV of item,annotator,value (a header naming them, or those three columns first). */
export function readRatings(path: string, at: Level): Rating[] {
  let text: string;
  try {
    text = readBoundedSync(path, 256 * MiB).toString('utf8');
  } catch (error) {
    throw new ApiError('source_not_found', `Cannot read the ratings file ${path}: ${(error as Error).message}`);
  }
  let rows: string[][];
  try {
    rows = parse(text, { skip_empty_lines: true, trim: true, relax_column_count: true }) as string[][];
  } catch (error) {
    throw new ApiError('source_unsupported', `${path} is not a readable CSV file: ${(error as Error).message}`);
  }
  if (rows.length === 0) throw new ApiError('source_unsupported', `${path} has no rows`);
  const header = rows[0]!.map((cell) => cell.toLowerCase());
  const named = ['item', 'annotator', 'value'].map((name) => header.indexOf(name));
  const hasHeader = named.every((index) => index >= 0);
  const [item, annotator, value] = hasHeader ? named : [0, 1, 2];
  const ratings: Rating[] = [];
  rows.slice(hasHeader ? 1 : 0).forEach((row, index) => {
    const line = index + (hasHeader ? 2 : 1);
    if (row.length < 3)
      throw new ApiError(
        'source_unsupported',
        `${path} line ${line}: expected item,annotator,value, got ${row.length} column(s)`,
      );
    const raw = row[value!]!;
    if (raw === '' || raw.toUpperCase() === 'NA') return; // a missing value
    if (at !== 'nominal' && !Number.isFinite(Number(raw))) {
      throw new ApiError(
        'source_unsupported',
        `${path} line ${line}: "${raw}" is not a number; ${at} agreement needs numbers (use --level nominal for categories)`,
      );
    }
    ratings.push({ item: row[item!]!, annotator: row[annotator!]!, value: at === 'nominal' ? raw : Number(raw) });
  });
  return ratings;
}

export function ratingsAgreement(path: string, values: Values): unknown {
  const at = level(values.level);
  const ratings = readRatings(resolve(path), at);
  return {
    file: resolve(path),
    ratings: ratings.length,
    ...agreement(ratings, at, { samples: samples(values) }),
    leaveOneOut: leaveOneOut(ratings, at),
  };
}

export async function labelsCommand(
  client: Client,
  sub: string,
  values: Values,
  number: NumberArg,
  positionals: string[],
): Promise<unknown> {
  if (sub === 'export') {
    const format = values.format ?? 'jsonl';
    if (format !== 'csv' && format !== 'jsonl')
      throw new ApiError('invalid_request', `--format must be csv or jsonl (got "${String(format)}")`);
    const { text } = await client.call('labels.export', { sessionId: number(values.session, '--session'), format });
    return new RawOutput(text);
  }
  if (sub === 'sessions') return client.call('labels.sessions', {});
  if (sub === 'pack') {
    if (typeof values.out !== 'string') throw new ApiError('invalid_request', 'Missing --out PACK.xaiws');
    return client.call('labels.exportPack', {
      sessionId: number(values.session, '--session'),
      path: resolve(values.out),
    });
  }
  if (sub === 'merge') {
    const pack = positionals[0];
    if (!pack) throw new ApiError('invalid_request', 'Missing PACK: xaiws labels merge PROJECT PACK.xaiws');
    return client.call('labels.mergePack', { path: resolve(pack) });
  }
  throw new ApiError('invalid_request', `Unknown labels command "${sub}" (export, sessions, pack, merge)`);
}

export async function sessionAgreement(client: Client, values: Values, number: NumberArg): Promise<unknown> {
  return client.call('labels.agreement', { sessionId: number(values.session, '--session'), samples: samples(values) });
}
