/**
 * The app's side of "Train explainers" (src-main/explain/train-explainers.ts): the training set it
 * hands the toolkit (an IDX import's stored pixels read back by the toolkit's own loader, pixel for
 * pixel), the named refusal when Python lacks torch, the progress it shows, and a run that stops when
 * the job is cancelled. The training itself is tested in test/python/test_explainers.py, and from the
 * app in test/e2e/train-explainers.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runImport } from '../../src-main/datasets/read/importer.ts';
import { checkPython, describeEvent, runToolkit, writeTrainingSet } from '../../src-main/explain/train-explainers.ts';
import { Project } from '../../src-main/store/project.ts';
import { ApiError } from '../../src-shared/errors.ts';
import { fashionMnistSubset, tempDir } from '../support/fixtures.ts';
import { ROOT } from '../support/host.ts';

const opened: Project[] = [];
afterEach(() => opened.splice(0).forEach((project) => project.close()));
const quiet = { progress: () => undefined, isCancelled: () => false };
const DEMO = join(ROOT, 'resources/models/fashion-mnist-cnn');

async function idxProject(count: number) {
  const project = Project.create(join(tempDir(), 'p.xaiws'));
  opened.push(project);
  const { datasetId } = await runImport(project, { source: fashionMnistSubset(tempDir(), count) }, quiet);
  return { project, datasetId };
}

describe('the training set the app hands the toolkit', () => {
  it('writes stored pixels to one raw file that the toolkit reads back exactly, labels by class name', async () => {
    const { project, datasetId } = await idxProject(30);
    const folder = tempDir();
    expect(writeTrainingSet(project, datasetId, folder)).toEqual({ images: 30 });
    expect(statSync(join(folder, 'pixels.u8')).size).toBe(30 * 784);
    const set = JSON.parse(readFileSync(join(folder, 'training-set.json'), 'utf8'));
    expect(set.images[0]).toMatchObject({ label: 'Ankle boot', pixels: { offset: 0, width: 28, channels: 1 } });
    const script = `
import json, sys
from training import data
manifest = json.load(open(sys.argv[2]))
loaded = data.load(sys.argv[1], manifest)
print(json.dumps({"train": len(loaded.train), "test": len(loaded.test),
                  "sum": int(loaded.train.pixels.long().sum() + loaded.test.pixels.long().sum()),
                  "labels": sorted(loaded.train.labels.tolist() + loaded.test.labels.tolist())}))`;
    const read = JSON.parse(
      execFileSync(
        '/usr/bin/python3',
        ['-c', script, join(folder, 'training-set.json'), join(DEMO, 'classifier.manifest.json')],
        {
          cwd: ROOT,
          encoding: 'utf8',
        },
      ),
    );
    const pixels = readFileSync(join(folder, 'pixels.u8'));
    expect(read.train + read.test).toBe(30);
    expect(read.sum).toBe(pixels.reduce((total, value) => total + value, 0));
    const classes = JSON.parse(readFileSync(join(DEMO, 'classifier.manifest.json'), 'utf8')).classes as string[];
    expect(read.labels).toEqual(
      set.images.map((e: { label: string }) => classes.indexOf(e.label)).sort((a: number, b: number) => a - b),
    );
  });
});

describe('running the toolkit', () => {
  it('names what to install when the interpreter lacks torch or is missing', () => {
    expect(() => checkPython('/nonexistent/python3')).toThrow(ApiError);
    expect(() => checkPython('/nonexistent/python3')).toThrow(/apt install python3-torch python3-onnx python3-pil/);
    try {
      checkPython('/nonexistent/python3');
    } catch (error) {
      expect((error as ApiError).code).toBe('python_missing');
    }
    expect(() => checkPython('/usr/bin/python3')).not.toThrow();
  });

  it('turns the toolkit events into the job stage: losses, steps and the time left', () => {
    expect(
      describeEvent({
        event: 'progress',
        role: 'dxai',
        step: 400,
        steps: 3000,
        losses: { d: 1.25, cls: 0.5 },
        eta: 150,
      }),
    ).toEqual({ stage: 'dxai: d 1.250, cls 0.500, about 3 min left', done: 400, total: 3000 });
    expect(describeEvent({ event: 'loading', done: 500, total: 2000 })).toEqual({
      stage: 'reading images',
      done: 500,
      total: 2000,
    });
    expect(describeEvent({ event: 'quality', role: 'cae' })).toBeNull();
  });

  it('stops the toolkit when the job is cancelled', async () => {
    const { project, datasetId } = await idxProject(40);
    const folder = tempDir();
    writeTrainingSet(project, datasetId, folder);
    const controller = new AbortController();
    const stages: string[] = [];
    const run = runToolkit(
      [
        'explainers',
        '--model',
        join(DEMO, 'classifier.onnx'),
        '--manifest',
        join(DEMO, 'classifier.manifest.json'),
      ].concat(['--data', join(folder, 'training-set.json'), '--out', folder, '--steps', '1000000']),
      ROOT,
      controller.signal,
      (event) => {
        if (event.event === 'stage') stages.push(event.stage as string);
        if (event.stage === 'dxai') controller.abort();
      },
    );
    await expect(run).rejects.toMatchObject({ code: 'cancelled' });
    expect(stages).toEqual(['loading', 'dxai']);
  });

  it('reports the toolkit’s own words when it refuses the data', async () => {
    const folder = tempDir();
    const run = runToolkit(
      [
        'explainers',
        '--model',
        join(DEMO, 'classifier.onnx'),
        '--manifest',
        join(DEMO, 'classifier.manifest.json'),
      ].concat(['--data', join(folder, 'nothing.txt'), '--out', folder]),
      ROOT,
      new AbortController().signal,
      () => undefined,
    );
    await expect(run).rejects.toMatchObject({ code: 'training_failed', message: /expected an IDX folder/ });
  });
});
