/**
 * TCAV (issue 19, point 3). By construction first: a model whose class 0 score is the mean of one
 * feature channel (the image's first channel, through a ReLU); a concept of regions bright in that
 * channel has a CAV along it, so every class-0 image's score rises along it (TCAV score near 1, the
 * t-test passes); "concepts" of random regions pass the test at most at its false-positive rate.
 * Then through the API on a project with labels: every tested concept scored at three layers for every
 * class, the labelled classes at their best layer, the images most aligned, a layer that does not
 * exist refused by name. And the t-test's p-values against scipy's.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRouter } from '../../src-main/api/router.ts';
import type { MethodName, Request, Result } from '../../src-shared/contract.ts';
import { seededGaussian, seededUniform } from '../../src-shared/random.ts';
import { CamEngine } from '../../src-main/explain/cam/engine.ts';
import { layerPass } from '../../src-main/explain/map/layer-pass.ts';
import { fitCav, poolRegion, regionMask, testConcept, welchTTest } from '../../src-main/explain/map/tcav.ts';
import { Workstation } from '../../src-main/workstation.ts';
import { tempDir } from '../support/fixtures.ts';
import { ROOT } from '../support/host.ts';
import { answerAll, explainedProject, labelSession } from '../support/labelling.ts';
import { floatTensor, int, ints, makeModel, node } from '../support/onnx-builder.ts';

describe('TCAV by construction', () => {
  // x [3, 8, 8] -> 1 x 1 conv to 8 channels ("features") -> ReLU -> global
  // mean -> scores: class 0 is mostly the mean of channel 0 (the others weigh at most 0.3), class 1
  // mixes every channel with random weights.
  const random = seededUniform(3);
  // Channel 0 is x's channel 0; the others mix only x's channels 1 and 2.
  const weights = Array.from({ length: 8 * 3 }, (_, i) => (i < 3 ? [1, 0, 0][i]! : i % 3 === 0 ? 0 : random() * 2 - 1));
  const mixing = [
    ...[1, ...Array.from({ length: 7 }, () => 0.3 * (random() * 2 - 1))],
    ...Array.from({ length: 8 }, () => random() * 2 - 1),
  ];
  const model = makeModel({
    inputShape: [3, 8, 8],
    nodes: [
      node('Conv', ['x', 'w', 'b'], 'features', [ints('kernel_shape', [1, 1])]),
      node('Relu', ['features'], 'active'),
      node('GlobalAveragePool', ['active'], 'pooled'),
      node('Flatten', ['pooled'], 'flat', [int('axis', 1)]),
      node('Gemm', ['flat', 'mixing'], 'scores', [int('transB', 1)]),
    ],
    initializers: [
      floatTensor('w', [8, 3, 1, 1], weights),
      floatTensor('b', [8], new Array(8).fill(0)),
      floatTensor('mixing', [2, 8], mixing),
    ],
    result: 'scores',
  });
  const image = () => Float32Array.from({ length: 3 * 64 }, () => random() * 2 - 1);
  const channelZero = (im: Float32Array) => im.subarray(0, 64);

  it('scores 1 for the class a planted concept drives, and random concepts fail the test', async () => {
    const engine = await CamEngine.create(model.encode(), { dims: [3, 8, 8], layout: 'NCHW' }, (bytes) =>
      ort.InferenceSession.create(bytes),
    );
    const run = async (images: Float32Array[], target: number) => {
      const data = new Float32Array(images.length * 192);
      images.forEach((im, i) => data.set(im, i * 192));
      return (
        await layerPass(
          engine,
          data,
          images.length,
          ['features'],
          images.map(() => target),
        )
      )[0]!;
    };
    const pooledOf = (pass: Awaited<ReturnType<typeof run>>, masks: (Uint8Array | null)[]) =>
      masks.map((mask, i) => poolRegion(pass.activations.subarray(i * 512, (i + 1) * 512), 8, 64, mask));
    // The concept: the brightest 30 % of channel 0 in each image (the region people labelled).
    const conceptImages = Array.from({ length: 20 }, image);
    const concept = pooledOf(
      await run(conceptImages, 0),
      conceptImages.map((im) => regionMask(channelZero(im))),
    );
    const box = () => {
      const mask = new Uint8Array(64);
      const [top, left] = [Math.floor(random() * 4), Math.floor(random() * 4)];
      for (let y = top; y < top + 4; y++) for (let x = left; x < left + 4; x++) mask[y * 8 + x] = 1;
      return mask;
    };
    const randomSet = async () => {
      const images = Array.from({ length: 20 }, image);
      return pooledOf(await run(images, 0), images.map(box));
    };
    const randomSets = [];
    for (let r = 0; r < 11; r++) randomSets.push(await randomSet());
    const classImages = Array.from({ length: 40 }, image);
    const gradients = async (target: number) => {
      const pass = await run(classImages, target);
      return classImages.map((_, i) => pass.gradients.subarray(i * 8, (i + 1) * 8));
    };
    const planted = testConcept(concept, randomSets, await gradients(0));
    expect(planted.mean).toBeGreaterThan(0.95);
    expect(planted.significant).toBe(true);
    expect(planted.accuracy).toBeGreaterThan(0.9);
    // "Concepts" that are only random regions, on the class whose gradients point every way: at most one
    // of ten passes (the test's 5 % false positives).
    const classOne = await gradients(1);
    let passed = 0;
    for (let f = 0; f < 10; f++) if (testConcept(await randomSet(), randomSets, classOne).significant) passed++;
    expect(passed).toBeLessThanOrEqual(1);
    await engine.release();
  });

  it("fits the same CAV as scikit-learn's LogisticRegression, with fewer or more channels than examples", () => {
    const gaussian = seededGaussian(8);
    for (const dims of [12, 150]) {
      const positive = Array.from({ length: 30 }, () =>
        Float32Array.from({ length: dims }, (_, d) => gaussian() + (d % 3 === 0 ? 0.6 : 0)),
      );
      const negative = Array.from({ length: 30 }, () =>
        Float32Array.from({ length: dims }, (_, d) => 2 * gaussian() + d * 0.01),
      );
      const ours = fitCav(positive, negative).cav;
      const script = `
import json, sys
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
p, n = json.loads(sys.stdin.read())
x = np.array(p + n); y = np.array([1] * len(p) + [0] * len(n))
scaler = StandardScaler().fit(x)
w = LogisticRegression(C=1.0, tol=1e-10, max_iter=10000).fit(scaler.transform(x), y).coef_[0] / scaler.scale_
print(json.dumps((w / np.linalg.norm(w)).tolist()))`;
      const theirs = JSON.parse(
        execFileSync('/usr/bin/python3', ['-c', script], {
          encoding: 'utf8',
          input: JSON.stringify([positive.map((v) => Array.from(v)), negative.map((v) => Array.from(v))]),
        }),
      ) as number[];
      let dot = 0;
      for (let d = 0; d < dims; d++) dot += ours[d]! * theirs[d]!;
      expect(dot).toBeGreaterThan(0.9999);
    }
  });

  it("computes Welch's t-test as scipy does", () => {
    const a = [0.9, 0.85, 0.95, 1, 0.8, 0.9];
    const b = [0.5, 0.6, 0.3, 0.55, 0.45, 0.7, 0.4];
    const script = `
import json, sys
from scipy import stats
r = stats.ttest_ind(json.loads(sys.argv[1]), json.loads(sys.argv[2]), equal_var=False)
print(json.dumps([float(r.statistic), float(r.pvalue)]))`;
    const [t, p] = JSON.parse(
      execFileSync('/usr/bin/python3', ['-c', script, JSON.stringify(a), JSON.stringify(b)], { encoding: 'utf8' }),
    ) as [number, number];
    const ours = welchTTest(a, b);
    expect(ours.t).toBeCloseTo(t, 8);
    expect(ours.p).toBeCloseTo(p, 8);
    expect(welchTTest([1, 1, 1], [1, 1, 1]).p).toBe(1);
  });
});

describe('TCAV through the API', () => {
  let ws: Workstation;
  let dispatch: ReturnType<typeof createRouter>;
  let ids: { modelId: number; datasetId: number };

  async function call<M extends MethodName>(method: M, request: Request<M>): Promise<Result<M>> {
    const envelope = await dispatch(method, request);
    if (!envelope.ok) throw Object.assign(new Error(envelope.error.message), { code: envelope.error.code });
    return envelope.value as Result<M>;
  }

  beforeAll(async () => {
    const dir = tempDir();
    ws = new Workstation({ dataDir: dir, resourcesDir: join(ROOT, 'resources'), transport: 'cli' });
    dispatch = createRouter(ws);
    ids = await explainedProject(ws, join(dir, 'tcav.xaiws'), join(dir, 'data'), 24);
    await expect(call('tcav.run', { ...ids })).rejects.toMatchObject({ code: 'no_labels' });
    const annotators = ['Ana', 'Ben', 'Cem'].map((name) => ws.project.labels.addAnnotator(name, 'analyst').id);
    const sessionId = await labelSession(ws, ids, {
      name: 'Concepts',
      maxImages: 16,
      taskTypes: ['concept', 'reveal'],
      overlap: 3,
      goldShare: 0,
      annotatorIds: annotators,
    });
    await answerAll(ws, sessionId, annotators);
  }, 600_000);
  afterAll(() => ws?.shutdown());

  it('tests every concept with enough labelled images at three layers, for every class', async () => {
    const job = await ws.jobs.wait((await call('tcav.run', { ...ids, runs: 10, classImages: 10 })).jobId);
    expect(job.error).toBeNull();
    const report = (await call('tcav.result', ids))!;
    expect(report.layers).toHaveLength(3);
    expect(report.layers.at(-1)).toBe(report.regionLayer);
    expect(report.concepts.length).toBeGreaterThan(0);
    const classes = ws.project.models.list()[0]!.manifest.classes.length;
    for (const concept of report.concepts) {
      expect(concept.examples).toBeGreaterThanOrEqual(3);
      // Every class with images, at every layer.
      const present = new Set(ws.project.images.classNames(ids.datasetId).names).size;
      expect(concept.scores.length).toBe(report.layers.length * Math.min(classes, present));
      for (const s of concept.scores) {
        expect(s.mean).toBeGreaterThanOrEqual(0);
        expect(s.mean).toBeLessThanOrEqual(1);
        expect(s.p).toBeGreaterThanOrEqual(0);
        expect(s.significant).toBe(s.p < 0.05);
      }
      expect(concept.tested.length).toBeGreaterThan(0);
      expect(concept.aligned.length).toBeGreaterThan(0);
      const similarities = concept.aligned.map((a) => a.similarity);
      expect(similarities).toEqual([...similarities].sort((a, b) => b - a));
    }
    for (const s of report.skipped) expect(s.reason).toMatch(/TCAV needs at least 3/);
    // The report gains the tested concepts and the strategies found.
    const names = ws.project.images.classNames(ids.datasetId).names;
    const classNames = ws.project.models.list()[0]!.manifest.classes;
    const commonest = classNames
      .map((name, k) => [names.filter((n) => n === name).length, k] as const)
      .sort((a, b) => b[0] - a[0])[0]![1];
    const strategiesJob = await ws.jobs.wait(
      (await call('strategies.run', { ...ids, classIndex: commonest, method: 'gradcam', clusters: 2 })).jobId,
    );
    expect(strategiesJob.error).toBeNull();
    const { html } = await call('aggregate.report', {});
    const strategies = html.slice(html.indexOf('<section id="strategies">'), html.indexOf('<section id="agreement">'));
    expect(strategies).toMatch(/strategy 1: \d+ images/);
    expect(strategies).toContain('<svg');
    const tested = html.slice(html.indexOf('<section id="tested">'), html.indexOf('<section id="strategies">'));
    expect(tested).toContain(report.concepts[0]!.name);
    expect(tested).toMatch(/uses it|no evidence|against it/);
  }, 600_000);

  it('refuses a layer the model does not have, by name', async () => {
    const job = await ws.jobs.wait((await call('tcav.run', { ...ids, layers: ['no/such/layer'], runs: 2 })).jobId);
    expect(job.status).toBe('failed');
    expect(job.error?.message).toMatch(/no\/such\/layer/);
  }, 600_000);
});
