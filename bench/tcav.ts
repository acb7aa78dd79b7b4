/**
 * TCAV as the app runs it: 10 concepts people named (a concept-label session over 300 Fashion-MNIST
 * test images, three annotators, ten different garment parts and patterns), tested at 3 layers of the
 * demo classifier against 10 random sets, every class scored on 50 of its images. Side by side, the
 * linear classifiers alone: the app's logistic regression against scikit-learn's LogisticRegression
 * on vectors of the same sizes (40 concept regions against 40 random ones, at each layer's channels).
 * Run: npm run build && node --import tsx bench/tcav.ts
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Job } from '../src-shared/contract.ts';
import { seededGaussian } from '../src-shared/random.ts';
import { Workstation } from '../src-main/workstation.ts';
import { fitCav } from '../src-main/explain/map/tcav.ts';
import { startTcav, tcavResult } from '../src-main/aggregate/tcav.ts';
import { answerAll, explainedProject, labelSession } from '../test/support/labelling.ts';
import { useBuiltWorkers } from './built-workers.ts';

const TEXTS = ['collar', 'sleeve', 'sole', 'heel', 'lace', 'stripe', 'dot', 'pocket', 'button', 'zipper'];
useBuiltWorkers();
const dir = mkdtempSync(join(tmpdir(), 'xaiws-bench-tcav-'));
const ws = new Workstation({ dataDir: dir, resourcesDir: 'resources', transport: 'cli' });
const ids = await explainedProject(ws, join(dir, 'tcav.xaiws'), join(dir, 'data'), 600);
const annotators = ['Ana', 'Ben', 'Cem'].map((name) => ws.project.labels.addAnnotator(name, 'analyst').id);
const sessionId = await labelSession(ws, ids, {
  name: 'Concepts',
  maxImages: 300,
  taskTypes: ['concept'],
  overlap: 3,
  goldShare: 0,
  annotatorIds: annotators,
});
const answers = await answerAll(ws, sessionId, annotators, TEXTS);

const stages: { stage: string; at: number }[] = [];
ws.onEvent((event, payload) => {
  const job = payload as Job;
  if (event === 'job.updated' && job.kind === 'tcav' && stages.at(-1)?.stage !== job.stage)
    stages.push({ stage: job.stage, at: performance.now() });
});
const started = performance.now();
const job = await ws.jobs.wait(startTcav(ws, { ...ids, runs: 10, classImages: 50, concepts: 10, examples: 40 }).id);
const seconds = (performance.now() - started) / 1000;
if (job.status !== 'done') throw new Error(`TCAV job ${job.status}: ${job.error?.message}`);
const report = tcavResult(ws, ids)!;
const end = started + seconds * 1000;
const grouped = new Map<string, number>();
stages.forEach((s, i) => {
  const key = s.stage.startsWith('activations of "') ? 'activations of the concepts' : s.stage;
  grouped.set(key, (grouped.get(key) ?? 0) + ((stages[i + 1]?.at ?? end) - s.at) / 1000);
});

// The linear classifiers alone, ours and scikit-learn's, on vectors of each layer's size.
const channels = await (async () => {
  const { pool } = ws;
  const model = ws.project.models.list()[0]!;
  const { verifiedModel } = await import('../src-main/models/identity.ts');
  const pass = await pool.call('layerPass', {
    model: await verifiedModel(model),
    source: { projectPath: ws.project.path, imageIds: [ws.project.images.classNames(ids.datasetId).ids[0]!] },
    layers: report.layers,
    targets: [0],
  });
  return pass.map((p) => p.shape[0]);
})();
const fits = 10 * 10 * channels.length + 10 * channels.length; // concept CAVs, and the nulls
const gaussian = seededGaussian(2);
const sets = channels.map((c) => ({
  c,
  positive: Array.from({ length: 40 }, () => Float32Array.from({ length: c }, () => gaussian() + 0.5)),
  negative: Array.from({ length: 40 }, () => Float32Array.from({ length: c }, gaussian)),
}));
let t = performance.now();
for (let i = 0; i < fits / channels.length; i++) for (const s of sets) fitCav(s.positive, s.negative);
const oursFits = (performance.now() - t) / 1000;
writeFileSync(
  join(dir, 'sets.json'),
  JSON.stringify(
    sets.map((s) => ({
      positive: s.positive.map((v) => Array.from(v)),
      negative: s.negative.map((v) => Array.from(v)),
    })),
  ),
);
const script = `
import json, sys, time
import numpy as np
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits
sets = json.load(open(sys.argv[1]))
repeats = int(sys.argv[2])
data = [(np.array(s["positive"] + s["negative"]), np.array([1] * len(s["positive"]) + [0] * len(s["negative"]))) for s in sets]
with threadpool_limits(2):
    started = time.perf_counter()
    for _ in range(repeats):
        for x, y in data:
            LogisticRegression(max_iter=300).fit(x, y)
    print(json.dumps({"seconds": round(time.perf_counter() - started, 2)}))`;
const reference = JSON.parse(
  execFileSync('/usr/bin/python3', ['-c', script, join(dir, 'sets.json'), String(fits / channels.length)], {
    encoding: 'utf8',
    env: { ...process.env, OMP_NUM_THREADS: '2', OPENBLAS_NUM_THREADS: '2' },
  }),
) as { seconds: number };
await ws.shutdown();
rmSync(dir, { recursive: true, force: true });
console.log(
  JSON.stringify(
    {
      machine: `${cpus()[0]?.model ?? 'cpu'} x${availableParallelism()}`,
      answers,
      concepts: report.concepts.length,
      skipped: report.skipped,
      layers: report.layers.map((layer, l) => ({ layer, channels: channels[l] })),
      runs: report.runs,
      job: {
        seconds: Number(seconds.toFixed(2)),
        stages: Object.fromEntries([...grouped].map(([k, v]) => [k, Number(v.toFixed(2))])),
      },
      significant: report.concepts.flatMap((c) => c.tested).filter((s) => s.significant).length,
      testedPairs: report.concepts.flatMap((c) => c.tested).length,
      linearClassifiers: { fits, app: Number(oursFits.toFixed(2)), scikitLearn: reference.seconds },
    },
    null,
    2,
  ),
);
