/**
 * Where the time to a first Grad-CAM map of a never-seen model goes, phase by phase, in one process as
 * the inference worker runs it (same session options): reading and hashing the file, decoding it, the
 * shape probe (its model, its session, its two runs), the gradient graph (build, encode, session) and
 * the first run. Models from bench/real-size.ts's export (torchvision's ResNet-50 and ViT-B/16, seeded).
 * Then the same in the app's services, with the app's built workers: a project with one photograph, the
 * model registered (hashed, its manifest read, a session opened), and what the image panel does when the
 * photo is opened with it: the layer picker's list (probe and advice), then the recommended layer's map.
 * Run: node --import tsx bench/first-map.ts [FOLDER=/tmp/real-size] [--app] [--source] [--pause MS]   (`npm run build`
 * first; --source: the workers from their TypeScript instead of the built bundle; --pause: the image is
 * opened MS after the model is registered, as a user would, instead of at once)
 */
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { CamEngine } from '../src-main/explain/cam/engine.ts';
import { OnnxModel } from '../src-main/models/onnx/model.ts';
import { deterministicInput, probeShapes } from '../src-main/models/onnx/probe.ts';
import { buildGradientModel } from '../src-main/models/gradient/builder.ts';
import { Workstation } from '../src-main/workstation.ts';
import { startImport } from '../src-main/datasets/service.ts';
import { addModel } from '../src-main/models/service.ts';
import { explainImage, layers } from '../src-main/explain/service.ts';
import { useBuiltWorkers } from './built-workers.ts';

const folder = process.argv.slice(2).find((a) => !a.startsWith('--') && !/^\d+$/.test(a)) ?? '/tmp/real-size';
/** --pause MS: time between registering the model and opening the image (0: at once). */
const pause = process.argv.includes('--pause') ? Number(process.argv[process.argv.indexOf('--pause') + 1]) : 0;
const MODELS = {
  resnet50: '/layer4/layer4.2/relu_2/Relu_output_0',
  vit_b_16: '/encoder/layers/encoder_layer_11/ln_1/LayerNormalization_output_0',
};
const options = {
  intraOpNumThreads: 2,
  interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
  extra: { session: { intra_op: { allow_spinning: '0' } } },
} as const;

async function phases(name: string, layer: string) {
  const times: Record<string, number> = {};
  let last = performance.now();
  const mark = (phase: string) => {
    const now = performance.now();
    times[phase] = Math.round(now - last);
    last = now;
  };
  const bytes = readFileSync(join(folder, `${name}.onnx`));
  mark('read the file');
  createHash('sha256').update(bytes).digest('hex');
  mark('sha-256');
  const model = OnnxModel.read(bytes);
  mark('decode the protobuf');
  const probe = await probeShapes(model, [3, 224, 224], { threads: 2, phase: (phase) => mark(`probe: ${phase}`) });
  const gradient = buildGradientModel(model, probe.shapes, {
    targets: [layer],
    output: model.outputNames()[0]!,
    types: probe.types,
    batchAxes: probe.batchAxes,
    values: probe.values,
  });
  mark('build the gradient graph');
  const encoded = gradient.model.encode();
  mark('encode the gradient graph');
  const session = await ort.InferenceSession.create(encoded, options);
  mark('gradient session');
  const dims = [1, 3, 224, 224];
  await session.run({
    [model.inputNames()[0]!]: new ort.Tensor('float32', deterministicInput(dims), dims),
    xaiws_target: new ort.Tensor('int64', BigInt64Array.from([-1n]), [1]),
  });
  mark('first run');
  await session.release();
  // The engine end to end, for comparison (probe included, no cache).
  const start = performance.now();
  const engine = await CamEngine.create(bytes, { dims: [3, 224, 224], layout: 'NCHW' }, (b) =>
    ort.InferenceSession.create(b, options),
  );
  await engine.explain(deterministicInput(dims), 1, { method: 'gradcam', layer, targets: [-1] });
  times['engine end to end'] = Math.round(performance.now() - start);
  return times;
}

/** Seconds to register the model in a project and from opening an image to its first map (empty cache). */
async function inTheApp(name: string, layer: string) {
  const dir = mkdtempSync(join(tmpdir(), 'xaiws-first-map-'));
  const workstation = new Workstation({
    dataDir: dir,
    resourcesDir: 'resources',
    transport: 'host', // as the app: registering a model starts working out its layer list
    cacheDir: join(dir, 'cache'),
  });
  try {
    await workstation.createProject(join(dir, 'first-map.xaiws'));
    mkdirSync(join(dir, 'photos', 'astronaut'), { recursive: true });
    copyFileSync(join(folder, 'astronaut.jpg'), join(dir, 'photos', 'astronaut', 'astronaut.jpg'));
    await workstation.jobs.wait(startImport(workstation, { source: join(dir, 'photos') }).id);
    const start = performance.now();
    const model = await addModel(workstation, {
      path: join(folder, `${name}.onnx`),
      manifestPath: join(folder, `${name}.manifest.json`),
    });
    const registered = performance.now();
    if (pause > 0) await new Promise((resolve) => setTimeout(resolve, pause)); // the user finding an image
    const opened = performance.now();
    // What the image panel does: list the layers for the picker, then explain at the recommended one.
    const recommended = (await layers(workstation, { modelId: model.id })).find((l) => l.recommended)!;
    if (recommended.name !== layer) throw new Error(`recommended ${recommended.name}, not ${layer}`);
    const listed = performance.now();
    const map = await explainImage(workstation, {
      modelId: model.id,
      imageId: 1,
      method: 'gradcam',
      layer,
      target: -1,
    });
    const end = performance.now();
    if (map.map.length === 0) throw new Error('no map');
    const seconds = (ms: number) => Number((ms / 1000).toFixed(2));
    return {
      register: seconds(registered - start),
      layers: seconds(listed - opened),
      firstMap: seconds(end - listed),
      fromOpeningTheImage: seconds(end - opened),
    };
  } finally {
    await workstation.shutdown();
    rmSync(dir, { recursive: true, force: true });
  }
}

// --app: only the app's route. Timed after the in-process phases (which keep their engines), the
// workers measured up to twice as slow, as the command line did after real-size.ts's engines.
if (!process.argv.includes('--app'))
  for (const [name, layer] of Object.entries(MODELS))
    console.log(name, JSON.stringify(await phases(name, layer), null, 1));
if (!process.argv.includes('--source')) useBuiltWorkers();
for (const [name, layer] of Object.entries(MODELS))
  console.log(name, 'in the app:', JSON.stringify(await inTheApp(name, layer)));
