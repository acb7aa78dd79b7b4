import { join } from 'node:path';
import { rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRouter } from './src-main/api/router.ts';
import { Workstation } from './src-main/workstation.ts';
import { explainedProject, answerFor } from './test/support/labelling.ts';

const dir = '/tmp/agg-smoke';
rmSync(dir, { recursive: true, force: true }); mkdirSync(dir);
const ws = new Workstation({ dataDir: dir, resourcesDir: join(process.cwd(), 'resources'), transport: 'cli' });
const d = createRouter(ws);
const call = async (m: any, r: any) => { const e = await d(m, r); if (!e.ok) throw new Error(JSON.stringify(e.error)); return e.value as any; };
const ids = await explainedProject(ws, join(dir, 'p.xaiws'), join(dir, 'data'), 12);
const ann = [];
for (const name of ['Ana', 'Ben', 'Cem']) ann.push((await call('annotators.add', { name, role: 'analyst' })).id);
const sources = (await call('labels.sources', { modelId: ids.modelId })).map((s: any) => s.source);
const s = await call('labels.create', { name: 'S1', ...ids, maxImages: 8, sources, taskTypes: ['rating', 'pairwise', 'concept', 'reveal'], overlap: 3, goldShare: 0.1, annotatorIds: ann, concepts: ['collar', 'sole'] });
const texts = ['long sleeves, collar', 'the sleeve', 'stripes', 'heel and sole', 'laces', 'buttons', 'neckline', 'shoe sole', 'strap'];
let t0 = Date.now();
for (const [k, a] of ann.entries()) {
  let next = await call('labels.next', { sessionId: s.id, annotatorId: a });
  let i = 0;
  while (next.state === 'task') {
    const task = next.task;
    let answer: any = answerFor(task, k);
    if (task.type === 'reveal') { await call('labels.reveal', { sessionId: s.id, annotatorId: a, taskId: task.taskId, step: (i % 3) }); answer = { ...answer, text: texts[(i + k) % texts.length] }; }
    if (task.type === 'concept') answer = { ...answer, text: texts[(i * 2 + k) % texts.length] };
    const ack = await call('labels.answer', { sessionId: s.id, annotatorId: a, taskId: task.taskId, answer });
    next = ack.next; i++;
  }
  console.log('annotator', a, 'answered', i);
}
t0 = Date.now();
const r = await call('aggregate.run', {});
console.log('aggregate ms', Date.now() - t0);
console.log(JSON.stringify(r.settings, null, 1));
console.log(r.concepts.map((c: any) => `${c.name}: ${c.terms.map((t: any) => t.term).join('|')}`));
console.log(JSON.stringify(r.atlas[0], null, 0).slice(0, 1500));
console.log(JSON.stringify(r.methods[0], null, 0).slice(0, 2000));
const job = await call('aggregate.faithfulness', {});
t0 = Date.now();
console.log(await ws.jobs.wait(job.jobId), Date.now() - t0);
const r2 = await call('aggregate.run', {});
console.log(JSON.stringify(r2.methods[0].rows.map((x: any) => [x.method, x.faithfulness])), JSON.stringify(r2.methods[0].correlations));
console.log(JSON.stringify(r2.disagreement.items.slice(0, 3)), JSON.stringify(r2.disagreement.classes.slice(0, 3)));
const rep = await call('aggregate.report', { pdf: join(dir, 'report.pdf') });
writeFileSync(join(dir, 'report.html'), rep.html);
console.log('html bytes', rep.html.length, rep.pdf);
console.log(JSON.stringify((await call('aggregate.labelNext', { sessionId: s.id })).slice(0, 3)));
await ws.shutdown();
