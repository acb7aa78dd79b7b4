/**
 * Model manifests (docs/MANIFEST.md): read, validate, and say which field is wrong.
 */
import { existsSync } from 'node:fs';
import { FileProblem, MiB, readBoundedSync } from '../io/files.ts';
import { dirname, join, basename } from 'node:path';
import type { z } from 'zod';
import { Manifest } from '../../src-shared/contract.ts';
import { ApiError } from '../../src-shared/errors.ts';

export function parseManifest(value: unknown, label: string): Manifest {
  const parsed = Manifest.safeParse(value);
  if (parsed.success) {
    const { mean, std } = parsed.data.preprocessing;
    const channels = parsed.data.input.channels;
    for (const [field, list] of [
      ['mean', mean],
      ['std', std],
    ] as const) {
      if (list.length !== 1 && list.length !== channels) {
        throw new ApiError(
          'manifest_invalid',
          `${label}: preprocessing.${field} has ${list.length} values for ${channels} input channel(s); give 1 or ${channels}`,
        );
      }
    }
    return parsed.data;
  }
  throw new ApiError('manifest_invalid', describeIssue(value, parsed.error, label));
}

/** "label: field "a.b" is wrong: message (got value)" for the first issue zod found. */
export function describeIssue(value: unknown, error: z.ZodError, label: string): string {
  const issue = error.issues[0]!;
  const field = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
  let received = '';
  if (issue.path.length > 0) {
    let current: unknown = value;
    for (const key of issue.path) current = (current as Record<PropertyKey, unknown> | undefined)?.[key as PropertyKey];
    received = current === undefined ? ' (missing)' : ` (got ${JSON.stringify(current)?.slice(0, 80)})`;
  }
  return `${label}: field "${field}" is wrong: ${issue.message}${received}`;
}

/** The manifest of a model file: given, or <model>.manifest.json / manifest.json beside it. */
export function readManifest(modelPath: string, manifestPath?: string): { manifest: Manifest; path: string } {
  const candidates = manifestPath
    ? [manifestPath]
    : [modelPath.replace(/\.onnx$/i, '.manifest.json'), join(dirname(modelPath), 'manifest.json')];
  const path = candidates.find((candidate) => existsSync(candidate));
  if (!path) {
    throw new ApiError(
      'manifest_invalid',
      `No manifest for ${basename(modelPath)}: looked for ${candidates.join(' and ')} (see docs/MANIFEST.md)`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(readBoundedSync(path, 4 * MiB).toString('utf8'));
  } catch (error) {
    throw new ApiError(
      'manifest_invalid',
      error instanceof FileProblem
        ? `Cannot read the manifest: ${error.message}`
        : `${path} is not valid JSON: ${(error as Error).message}`,
    );
  }
  return { manifest: parseManifest(json, path), path };
}
