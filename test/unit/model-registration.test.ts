/**
 * Model files as a new user, or someone else's folder, hands them over: the same file from another
 * folder with another manifest, external weight files that change or point outside the model's folder,
 * and files that are not ONNX models at all (an image, a pipe, a link to a device). Each is refused by
 * name, or registered once, and nothing registered before changes.
 */
import { copyFileSync, mkdirSync, readFileSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Workstation } from '../../src-main/workstation.ts';
import { onnx } from '../../src-main/models/onnx/model.ts';
import { fashionMnistSubset, tempDir } from '../support/fixtures.ts';
import { ROOT } from '../support/host.ts';
import { int, makeModel, node, seeded } from '../support/onnx-builder.ts';
import { addModel } from '../../src-main/models/service.ts';
import { verifiedModel } from '../../src-main/models/identity.ts';
import { startImport } from '../../src-main/datasets/service.ts';
import { startInference } from '../../src-main/inference/service.ts';

const DEMO = join(ROOT, 'resources/models/fashion-mnist-cnn');
const CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];
let ws: Workstation;
let dir: string;
let datasetId: number;

const manifest = (name: string, classes = CLASSES) =>
  JSON.stringify({
    format: 'xaiws.classifier/1',
    name,
    input: { channels: 1, height: 28, width: 28 },
    output: { kind: 'logits' },
    preprocessing: { scale: 255, mean: [0.286], std: [0.353] },
    classes,
  });

/** Flatten -> MatMul with a [784, 10] weight stored in `location` beside the model. */
function externalModel(folder: string, location: string, seed: number): string {
  mkdirSync(folder, { recursive: true });
  const weights = seeded(784 * 10, seed, -0.05, 0.05);
  const model = makeModel({
    inputShape: [1, 28, 28],
    nodes: [node('Flatten', ['x'], 'flat', [int('axis', 1)]), node('MatMul', ['flat', 'w'], 'logits')],
    initializers: [
      {
        name: 'w',
        dims: [784, 10],
        dataType: onnx.TensorProto.DataType.FLOAT,
        dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
        externalData: [
          { key: 'location', value: location },
          { key: 'offset', value: '0' },
          { key: 'length', value: String(weights.byteLength) },
        ],
      },
    ],
    result: 'logits',
  });
  writeFileSync(join(folder, location.replace(/^.*\//, '')), Buffer.from(weights.buffer));
  const path = join(folder, 'linear.onnx');
  writeFileSync(path, model.encode());
  writeFileSync(join(folder, 'linear.manifest.json'), manifest('Linear'));
  return path;
}

beforeAll(async () => {
  dir = tempDir();
  ws = new Workstation({ dataDir: dir, resourcesDir: join(ROOT, 'resources'), transport: 'cli' });
  await ws.createProject(join(dir, 'models.xaiws'));
  datasetId = (await ws.jobs.wait(startImport(ws, { source: fashionMnistSubset(join(dir, 'data'), 400) }).id)).result!
    .datasetId as number;
}, 600_000);
afterAll(() => ws.shutdown());

describe('registering a model', () => {
  it('refuses the same file with another manifest by name, and keeps the first registration as it was', async () => {
    const first = await addModel(ws, { path: join(DEMO, 'classifier.onnx') });
    const before = (await ws.jobs.wait(startInference(ws, { modelId: first.id, datasetId: datasetId }).id)).result!
      .accuracy as number;
    expect(before).toBeGreaterThan(0.8);
    const other = join(dir, 'other-folder');
    mkdirSync(other);
    copyFileSync(join(DEMO, 'classifier.onnx'), join(other, 'classifier.onnx'));
    writeFileSync(join(other, 'classifier.manifest.json'), manifest('Reordered', [...CLASSES].reverse()));
    await expect(addModel(ws, { path: join(other, 'classifier.onnx') })).rejects.toMatchObject({
      code: 'model_exists',
      message: expect.stringMatching(
        /already registered as "Fashion-MNIST demo CNN" \(from .*classifier\.onnx\) with another manifest: .*classes/s,
      ),
    });
    const kept = ws.model(first.id);
    expect(kept).toEqual(first);
    expect(ws.project.models.list()).toHaveLength(1);
    expect(
      (await ws.jobs.wait(startInference(ws, { modelId: first.id, datasetId: datasetId }).id)).result!.accuracy,
    ).toBe(before);
    // The same manifest from another folder is the same registration, now at that folder (its bundle).
    copyFileSync(join(DEMO, 'classifier.manifest.json'), join(other, 'classifier.manifest.json'));
    const again = await addModel(ws, { path: join(other, 'classifier.onnx') });
    expect(again).toEqual({ ...first, path: join(other, 'classifier.onnx') });
    expect(ws.project.models.list()).toHaveLength(1);
  });

  it('hashes external weight files with the model, and refuses weights that changed or live elsewhere', async () => {
    const path = externalModel(join(dir, 'external'), 'weights.bin', 1);
    const model = await addModel(ws, { path: path });
    const plain = externalModel(join(dir, 'external-copy'), 'weights.bin', 2);
    const sibling = await addModel(ws, { path: plain }); // the same .onnx bytes with other weights: another model
    expect(sibling.id).not.toBe(model.id);
    expect(sibling.fileHash).not.toBe(model.fileHash);
    expect((await ws.jobs.wait(startInference(ws, { modelId: model.id, datasetId: datasetId }).id)).status).toBe(
      'done',
    );
    // Change the weights: the model is refused, never used with the new weights.
    writeFileSync(join(dir, 'external', 'weights.bin'), Buffer.from(seeded(784 * 10, 3, -0.05, 0.05).buffer));
    const job = await ws.jobs.wait(startInference(ws, { modelId: model.id, datasetId: datasetId }).id);
    expect(job.status).toBe('failed');
    expect(job.error).toMatchObject({ code: 'model_changed' });
    // Weights outside the model's folder (here through a link) are refused before they are read.
    const escape = join(dir, 'escape');
    externalModel(escape, 'weights.bin', 4);
    writeFileSync(join(dir, 'secret.bin'), Buffer.alloc(31360));
    const linked = join(dir, 'linked');
    mkdirSync(linked);
    copyFileSync(join(escape, 'linear.onnx'), join(linked, 'linear.onnx'));
    copyFileSync(join(escape, 'linear.manifest.json'), join(linked, 'linear.manifest.json'));
    symlinkSync(join(dir, 'secret.bin'), join(linked, 'weights.bin'));
    await expect(addModel(ws, { path: join(linked, 'linear.onnx') })).rejects.toMatchObject({
      code: 'model_invalid',
      message: expect.stringMatching(/weights\.bin.*outside/),
    });
  });

  it("remembers a registration's hash, so the next use checks sizes and times instead of hashing again", async () => {
    const folder = join(dir, 'remembered');
    mkdirSync(folder);
    const path = join(folder, 'classifier.onnx');
    copyFileSync(join(DEMO, 'classifier.onnx'), path);
    copyFileSync(join(DEMO, 'classifier.manifest.json'), join(folder, 'classifier.manifest.json'));
    const mtime = new Date(Math.floor(statSync(path).mtimeMs / 1000) * 1000); // whole seconds: utimes can set it back exactly
    utimesSync(path, mtime, mtime);
    const model = await addModel(ws, { path });
    // Other bytes of the same size with the registration's time: taken on its word (no second hash)...
    const bytes = readFileSync(path);
    bytes[bytes.length - 1] = bytes.at(-1)! ^ 0xff;
    writeFileSync(path, bytes);
    utimesSync(path, mtime, mtime);
    expect(await verifiedModel(ws.model(model.id))).toMatchObject({ key: model.fileHash });
    // ...and once the time moves, hashed again and refused.
    utimesSync(path, mtime, new Date(mtime.getTime() + 5000));
    await expect(verifiedModel(ws.model(model.id))).rejects.toMatchObject({ code: 'model_changed' });
  });

  it('says "not an ONNX model" for an image, and refuses pipes and devices without reading them', async () => {
    const image = join(dir, 'photo.png');
    await sharp({ create: { width: 8, height: 8, channels: 3, background: '#804020' } })
      .png()
      .toFile(image);
    await expect(
      addModel(ws, { path: image, manifestPath: join(DEMO, 'classifier.manifest.json') }),
    ).rejects.toMatchObject({ code: 'model_invalid', message: expect.stringContaining('is not an ONNX model') });
    await expect(addModel(ws, { path: image })).rejects.toMatchObject({
      code: 'model_invalid',
      message: expect.stringContaining('is not an ONNX model'),
    });
    const fifo = join(dir, 'pipe.onnx');
    execFileSync('mkfifo', [fifo]);
    await expect(addModel(ws, { path: fifo })).rejects.toMatchObject({
      code: 'model_invalid',
      message: expect.stringContaining('named pipe'),
    });
    const zero = join(dir, 'zero.onnx');
    symlinkSync('/dev/zero', zero);
    await expect(addModel(ws, { path: zero })).rejects.toMatchObject({
      code: 'model_invalid',
      message: expect.stringContaining('character device'),
    });
    expect(ws.project.models.list().map((m) => m.name)).not.toContain('photo');
  });
});
