/**
 * A model's measured shapes are kept in the cache folder, keyed by the model's hash and input size, so
 * that a model seen before is not probed again by the next worker (another CLI call, the next start):
 * a second workstation reads what the first wrote (shown here by a planted shape that only the file
 * holds), and a damaged file is measured again and replaced. The stored form round-trips and refuses
 * anything else.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Workstation } from '../../src-main/workstation.ts';
import { addModel } from '../../src-main/models/service.ts';
import { layers } from '../../src-main/explain/service.ts';
import { parseProbe, PROBE_FORMAT, serializeProbe } from '../../src-main/models/onnx/probe.ts';
import { tempDir } from '../support/fixtures.ts';
import { ROOT } from '../support/host.ts';

const MODEL = join(ROOT, 'resources/models/fashion-mnist-cnn/classifier.onnx');
const LAYER = '/features/features.10/Relu_output_0';
const open: Workstation[] = [];

async function workstation(cacheDir: string, path = MODEL, manifestPath?: string, transport: 'cli' | 'host' = 'cli') {
  const dir = tempDir();
  const ws = new Workstation({ dataDir: dir, resourcesDir: join(ROOT, 'resources'), transport, cacheDir });
  open.push(ws);
  await ws.createProject(join(dir, 'p.xaiws'));
  const model = await addModel(ws, { path, manifestPath });
  return { ws, model };
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((ws) => ws.shutdown()));
});

describe('probe cache', () => {
  it('round-trips a probe and refuses text that is not one', () => {
    const probe = {
      shapes: new Map([['x', [2, 3]]]),
      types: new Map([['x', 'float32']]),
      batchAxes: new Map([['x', 0]]),
      values: new Map([['n', [4, -1]]]),
    };
    expect(parseProbe(serializeProbe(probe))).toEqual(probe);
    expect(parseProbe('not json')).toBeNull();
    expect(parseProbe(JSON.stringify({ format: PROBE_FORMAT + 1 }))).toBeNull();
    expect(
      parseProbe(
        JSON.stringify({ format: PROBE_FORMAT, shapes: [['x', 'big']], types: [], batchAxes: [], values: [] }),
      ),
    ).toBeNull();
  });

  it('is written by the first worker, read by the next, and measured again when damaged', async () => {
    const cacheDir = tempDir();
    const first = await workstation(cacheDir);
    const measured = (await layers(first.ws, { modelId: first.model.id })).find((l) => l.name === LAYER)!;
    expect(measured.shape).toEqual([64, 7, 7]);
    const [file] = readdirSync(join(cacheDir, 'probes')).filter((name) => !name.endsWith('.advice.json'));
    expect(file).toBe(`${first.model.fileHash}-1x28x28.json`);
    const path = join(cacheDir, 'probes', file!);

    const planted = JSON.parse(readFileSync(path, 'utf8')) as { shapes: [string, number[]][] };
    planted.shapes = planted.shapes.map(([name, dims]) => [name, name === LAYER ? [2, 64, 5, 5] : dims]);
    writeFileSync(path, JSON.stringify(planted));
    const second = await workstation(cacheDir);
    expect((await layers(second.ws, { modelId: second.model.id })).find((l) => l.name === LAYER)!.shape).toEqual([
      64, 5, 5,
    ]);

    writeFileSync(path, '{"format": 1, "shapes": [[');
    const third = await workstation(cacheDir);
    expect((await layers(third.ws, { modelId: third.model.id })).find((l) => l.name === LAYER)!.shape).toEqual([
      64, 7, 7,
    ]);
    expect(existsSync(path) && parseProbe(readFileSync(path, 'utf8'))).toBeTruthy();
  });

  it('answers layer lists asked for at once from one run of the advice', async () => {
    // The advice releases each of its gradient sessions after its run; two runs at once would share them.
    const vit = join(ROOT, 'test/fixtures/models/vit-tiny-224');
    const { ws, model } = await workstation(tempDir(), join(vit, 'model.onnx'), join(vit, 'manifest.json'));
    const lists = await Promise.all([1, 2, 3].map(() => layers(ws, { modelId: model.id })));
    expect(lists[0]!.some((l) => l.zeroGradient)).toBe(true);
    for (const list of lists) expect(list).toEqual(lists[0]);
  });

  it('is worked out right after a model is registered in the app, before any image asks for it', async () => {
    const cacheDir = tempDir();
    await workstation(cacheDir, MODEL, undefined, 'host');
    // Nothing but the registration ran: the worker measured the model and wrote its advice on its own.
    await vi.waitFor(
      () => {
        const files = existsSync(join(cacheDir, 'probes')) ? readdirSync(join(cacheDir, 'probes')) : [];
        expect(files.filter((name) => name.endsWith('.advice.json'))).toHaveLength(1);
      },
      { timeout: 120_000, interval: 50 },
    );
  });
});
