/**
 * The generative CLI commands on a project built by the CLI itself: JSON on stdout with the numbers
 * the views show, and a clear error (exit 1) for an image the project does not have.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { fashionMnistSubset, tempDir } from '../support/fixtures.ts';
import { ROOT } from '../support/host.ts';

const run = promisify(execFile);
const BUNDLE = join(ROOT, 'resources/models/fashion-mnist-cnn');
let dir: string;
let project: string;

async function cli(args: string[]): Promise<{ code: number; json: any }> {
  try {
    const { stdout } = await run(process.execPath, [join(ROOT, 'bin/xaiws.mjs'), ...args], {
      env: { ...process.env, XAIWS_HOME: dir },
      maxBuffer: 64 << 20,
    });
    return { code: 0, json: JSON.parse(stdout) };
  } catch (error) {
    const failure = error as { code: number; stdout: string };
    return { code: failure.code, json: JSON.parse(failure.stdout) };
  }
}

beforeAll(async () => {
  dir = tempDir();
  project = join(dir, 'cli.xaiws');
  expect((await cli(['project', 'create', project])).code).toBe(0);
  expect((await cli(['import', project, fashionMnistSubset(join(dir, 'data'), 12)])).code).toBe(0);
  expect(
    (
      await cli([
        'model',
        'add',
        project,
        join(BUNDLE, 'classifier.onnx'),
        '--manifest',
        join(BUNDLE, 'classifier.manifest.json'),
      ])
    ).code,
  ).toBe(0);
}, 600_000);

describe('xaiws decompose / counterfactual / components', () => {
  it('prints the parts with their probabilities and the global-beta curve', async () => {
    const { code, json } = await cli(['decompose', project, '--image', '1']);
    expect(code).toBe(0);
    expect(json.parts.map((p: { name: string }) => p.name).slice(0, 4)).toEqual([
      'image',
      'class-distinct',
      'class-agnostic',
      'reconstruction',
    ]);
    const image = json.parts[0].probabilities as Record<string, number>;
    expect(Object.keys(image)).toHaveLength(10);
    expect(json.distinctFor).toBe(json.predicted);
    expect(json.globalBeta[json.distinctFor]).toHaveLength(21);
    expect(json.globalBeta[json.distinctFor][0]).toBeCloseTo(image[json.predicted]!, 5);
    const other = await cli(['decompose', project, '--image', '1', '--class', '8']);
    expect(other.json.distinctFor).toBe('Bag');
  });

  it('prints the path with the flip step', async () => {
    const { code, json } = await cli(['counterfactual', project, '--image', '2', '--steps', '6', '--target', '3']);
    expect(code).toBe(0);
    expect(json.target).toBe('Dress');
    expect(json.steps).toHaveLength(7);
    const firstOther = json.steps.findIndex(
      (s: { step: number; predicted: string }) => s.step > 0 && s.predicted !== json.predicted,
    );
    expect(json.flipStep).toBe(firstOther < 0 ? null : firstOther);
  });

  it('prints contributions that add up to the logit', async () => {
    const { code, json } = await cli(['components', project, '--image', '3', '--top', '4']);
    expect(code).toBe(0);
    expect(json.channels).toHaveLength(4);
    const shown = json.channels.reduce((sum: number, c: { contribution: number }) => sum + c.contribution, 0);
    expect(Math.abs(shown + json.otherChannels + json.bias - json.logit)).toBeLessThan(1e-4);
    expect(json.channels[0].prototypes).toHaveLength(8);
  });

  it('fails with a clear error for an image the project lacks', async () => {
    const { code, json } = await cli(['components', project, '--image', '999']);
    expect(code).toBe(1);
    expect(json.error).toMatchObject({ code: 'image_not_found', message: 'No image with id 999 in this project' });
  });
});
