/**
 * The report of a project's global explanations: one self-contained HTML file (styles inline, charts
 * as inline SVG, example images as PNG data URIs, no script, nothing fetched) with the dataset and
 * model summary, the method ranking, the concept atlas with examples, agreement, disagreement, the
 * concept clusters, and the exact settings and model hashes. In the desktop app it becomes a PDF through
 * Electron's printToPDF (app/pdf.ts); elsewhere `printWithChromium` prints it with a
 * headless Chromium.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Aggregate, MethodRanking } from '../../src-shared/schemas/aggregate.ts';
import { ApiError } from '../../src-shared/errors.ts';
import { layerLabel } from '../../src-shared/layer-names.ts';
import { conceptBars, escapeXml as esc, fmt, heatmap, layerLines, rankingChart } from '../../src-shared/plots.ts';
import type { ImageWorker } from '../runtime/context.ts';
import type { Project } from '../store/project.ts';
import type { StrategyReport } from '../../src-shared/schemas/strategies.ts';
import type { TcavReport } from '../../src-shared/schemas/tcav.ts';
import { exampleImage } from './images.ts';

export const REPORT_SECTIONS = [
  'overview',
  'methods',
  'atlas',
  'tested',
  'strategies',
  'agreement',
  'disagreement',
  'concepts',
  'settings',
] as const;
const CONCEPTS_WITH_EXAMPLES = 3;
const EXAMPLES_SHOWN = 4;

function table(headers: string[], rows: (string | number | null)[][]): string {
  return `<table><thead><tr>${headers.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map(
      (r) =>
        `<tr>${r.map((c) => `<td>${typeof c === 'number' ? fmt(c, Number.isInteger(c) ? 0 : 2) : esc(c ?? '–')}</td>`).join('')}</tr>`,
    )
    .join('')}</tbody></table>`;
}

function ranking(m: MethodRanking): string {
  const rows = m.rows.map((r) => {
    const j = r.ratings['justifies']!;
    const p = r.ratings['predictable']!;
    const ci = (c: typeof j.weighted) => (c.mean === null ? '–' : `${fmt(c.mean)} [${fmt(c.low)}, ${fmt(c.high)}]`);
    return [
      r.humanRank === null ? '–' : String(r.humanRank),
      r.method,
      ci(j.weighted),
      ci(j.unweighted),
      ci(p.weighted),
      j.unweighted.n,
      r.pairwise.comparisons ? `${fmt(r.pairwise.weightedWinRate)} (${fmt(r.pairwise.winRate)})` : '–',
      r.pairwise.comparisons ? `${fmt(r.pairwise.bradleyTerryWeighted)} (${fmt(r.pairwise.bradleyTerry)})` : '–',
      r.faithfulness.deletion,
      r.faithfulness.insertion,
      r.faithfulness.road,
      r.faithfulness.sanity,
      r.faithfulness.images,
    ];
  });
  const correlations = m.correlations
    .filter((c) => c.weighted)
    .map((c) => {
      const unweighted = m.correlations.find((u) => !u.weighted && u.metric === c.metric);
      return [
        c.metric,
        c.methods,
        c.spearman === null ? 'too few methods' : fmt(c.spearman),
        unweighted?.spearman === null ? '–' : fmt(unweighted?.spearman),
      ];
    });
  return `<h3>${esc(m.scope)}</h3>
<div class="figure">${rankingChart(m.rows)}</div>
${table(['rank', 'method', 'justifies (weighted, 95 % CI)', 'justifies (unweighted)', 'predictable (weighted)', 'ratings', 'win rate w. (unw.)', 'Bradley-Terry w. (unw.)', 'deletion ↓', 'insertion ↑', 'ROAD ↑', 'sanity ρ ↓', 'metric images'], rows)}
<p class="note">Spearman correlation across methods between the human score and each metric (turned so that larger is better):</p>
${table(['metric', 'methods', 'ρ (weighted human score)', 'ρ (unweighted)'], correlations)}`;
}

/** A strategy's mean map as a grid of grey squares (white: most relevance). */
function meanMapSvg(map: readonly number[], [h, w]: [number, number], cell = 8): string {
  const max = Math.max(...map, 1e-12);
  const rects = map
    .map((v, i) => {
      const level = Math.round(255 * (1 - v / max));
      return `<rect x="${(i % w) * cell}" y="${Math.floor(i / w) * cell}" width="${cell}" height="${cell}" fill="rgb(${level},${level},${level})"/>`;
    })
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w * cell}" height="${h * cell}" role="img" aria-label="mean map">${rects}</svg>`;
}

/** The concepts tested on the model (TCAV), one table a model and dataset. */
function testedSection(reports: readonly TcavReport[]): string {
  if (reports.length === 0)
    return '<p>No concepts tested on a model yet (Global panel, atlas: “Test the concepts on the model”).</p>';
  return reports
    .map(
      (
        r,
      ) => `<h3>Model ${r.modelId}, dataset ${r.datasetId} <small>${r.runs} random runs at ${r.layers.map((l) => esc(layerLabel(l))).join(', ')}</small></h3>
${table(
  ['concept', 'class people saw it in', 'TCAV score', 'random', 'p', 'tested on the model', 'layer'],
  r.concepts.flatMap((c) =>
    c.tested.map((t) => [
      c.name,
      t.className,
      `${fmt(t.mean)} ± ${fmt(t.std)}`,
      t.randomMean,
      t.p < 0.001 ? '< 0.001' : fmt(t.p, 3),
      t.significant ? (t.mean > t.randomMean ? 'uses it' : 'against it') : 'no evidence',
      layerLabel(t.layer),
    ]),
  ),
)}${r.skipped.length ? `<p class="note">Not tested: ${r.skipped.map((s) => `${esc(s.name)} (${esc(s.reason)})`).join('; ')}.</p>` : ''}`,
    )
    .join('\n');
}

/** The newest strategies of each class and method (SpRAy). */
function strategiesSection(reports: readonly StrategyReport[]): string {
  if (reports.length === 0) return '<p>No strategies found yet (Strategies view, Shift+S).</p>';
  return reports
    .map(
      (
        r,
      ) => `<h3>${esc(r.className)} · ${esc(r.method)} at ${esc(layerLabel(r.layer))} <small>${r.images} images, ${r.clusters.length} clusters, eigengap ${fmt(r.eigengap, 3)}</small></h3>
<div class="examples">${r.clusters.map((c) => `<figure>${meanMapSvg(c.meanMap, r.mapShape)}<figcaption>strategy ${c.rank + 1}: ${c.size} images (${fmt(c.share * 100, 0)} %)<br>unusual ${fmt(c.unusualness)} · predicted as the class ${fmt(c.predictedAsClass * 100, 0)} %</figcaption></figure>`).join('')}</div>`,
    )
    .join('\n');
}

export async function reportHtml(
  project: Project,
  images: ImageWorker,
  result: Aggregate,
  found: { tcav: TcavReport[]; strategies: StrategyReport[] } = { tcav: [], strategies: [] },
): Promise<string> {
  const { overview, settings } = result;
  const shown = new Map<string, string | null>();
  const imageOf = async (itemUuid: string) => {
    if (!shown.has(itemUuid)) shown.set(itemUuid, await exampleImage(project, images, itemUuid));
    return shown.get(itemUuid) ?? null;
  };

  const atlasSections: string[] = [];
  for (const a of result.atlas) {
    const examples: string[] = [];
    for (const c of a.concepts.slice(0, CONCEPTS_WITH_EXAMPLES)) {
      const figures: string[] = [];
      for (const e of c.examples.slice(0, EXAMPLES_SHOWN)) {
        const src = await imageOf(e.itemUuid);
        if (src)
          figures.push(
            `<figure><img src="${src}" alt="${esc(`image ${e.imageId}, ${e.method}`)}" width="112" height="112"><figcaption>#${e.imageId} · ${esc(e.method)}${e.layer ? ` · ${esc(layerLabel(e.layer))}` : ''}<br><q>${esc(e.text.slice(0, 60))}</q></figcaption></figure>`,
          );
      }
      examples.push(`<div class="examples"><h4>${esc(c.name)}</h4>${figures.join('')}</div>`);
    }
    const trends = a.trends.length
      ? `<p>${a.trends.map((t) => `<span class="trend ${t.direction}">${t.direction === 'rising' ? '↗' : '↘'} ${esc(t.name)} (${fmt(t.first)} → ${fmt(t.last)})</span>`).join(' ')}</p>`
      : '';
    atlasSections.push(`<section class="class" id="class-${a.classIndex}"><h3>${esc(a.className)} <small>${a.answers} labelled answers on ${a.images} images</small></h3>
<div class="figure">${conceptBars(a.concepts)}</div>
${a.layers.length >= 2 ? `<div class="figure">${layerLines(a)}</div>${trends}` : ''}
${table(
  ['concept', 'score', 'share', 'labels', 'people', 'images'],
  a.concepts.map((c) => [c.name, c.score, c.share, c.labels, c.people, c.images]),
)}
${examples.join('')}</section>`);
  }

  const dis = result.disagreement;
  const body = `
<header><h1>Global explanations: ${esc(overview.name)}</h1><p>Generated ${esc(settings.generatedAt)} by XAI Workstation from ${overview.answers} answers of ${overview.annotators} annotators on ${overview.labelledImages} images.</p>
<nav>${REPORT_SECTIONS.map((s) => `<a href="#${s}">${s}</a>`).join(' · ')}</nav></header>
<section id="overview"><h2>Dataset and model</h2>
${table(
  ['dataset', 'images', 'classes'],
  overview.datasets.map((d) => [d.name, d.images, d.classes.join(', ')]),
)}
${table(
  ['model', 'classes', 'accuracy', 'sha256'],
  overview.models.map((m) => [
    m.name,
    m.classes,
    m.accuracy === null ? '–' : `${(m.accuracy * 100).toFixed(1)} %`,
    m.hash,
  ]),
)}
</section>
<section id="methods"><h2>Method ranking</h2>
<p class="note">Human ratings on the two 1–5 scales (mean, 95 % t interval), weighted by annotator reliability with the unweighted figures beside; pairwise choices as win rates and Bradley-Terry log-strengths; faithfulness metrics of the same maps (deletion and insertion AUC, ROAD, the sanity check's Spearman similarity to the fully randomised model's map).</p>
${result.methods.length ? result.methods.map(ranking).join('\n') : '<p>No ratings or pairwise choices yet.</p>'}
</section>
<section id="atlas"><h2>Concept atlas</h2>
<p class="note">${esc(settings.score)}. Share = score ÷ labelled answers of the class (or layer).</p>
${atlasSections.length ? atlasSections.join('\n') : '<p>No concept labels yet.</p>'}
</section>
<section id="tested"><h2>Concepts tested on the model</h2>
<p class="note">TCAV (Kim et al. 2018): each concept's activation vector from the regions people labelled with it against salient regions of random images; the share of the class's images whose score rises along it, against random vectors' shares (two-sided Welch t-test, p &lt; 0.05 passes).</p>
${testedSection(found.tcav)}
</section>
<section id="strategies"><h2>Strategies</h2>
<p class="note">SpRAy (Lapuschkin et al. 2019): one method's maps of a class's images clustered spectrally; each cluster's mean map, size and unusualness (its mean map's distance from the class's, times the share of images it leaves out).</p>
${strategiesSection(found.strategies)}
</section>
<section id="agreement"><h2>Agreement</h2>
${result.agreement.map((h) => `<h3>${esc(h.title)}</h3><div class="figure">${heatmap(h)}</div>`).join('\n')}
</section>
<section id="disagreement"><h2>Disagreement</h2>
${table(
  ['class', 'items with 2+ answers', 'mean disagreement', "Krippendorff's α (justifies)"],
  dis.classes.map((c) => [c.className, c.items, c.meanDisagreement, c.alpha]),
)}
${table(
  ['item', 'image', 'class', 'task', 'method', 'answers', 'disagreement', 'answers given'],
  dis.items
    .slice(0, 30)
    .map((i) => [
      i.itemUuid.slice(0, 8),
      i.imageId,
      i.className,
      i.taskType,
      i.method,
      i.answers,
      i.disagreement,
      i.summary,
    ]),
)}
</section>
<section id="concepts"><h2>Concept clusters</h2>
${table(
  ['concept', 'most central word', 'labels', 'terms', 'edited'],
  result.concepts.map((c) => [
    c.name,
    c.autoName,
    c.labels,
    c.terms.map((t) => `${t.term} (${t.count})`).join(', '),
    c.edited ? 'yes' : '',
  ]),
)}
</section>
<section id="settings"><h2>Settings</h2>
${table(
  ['session', 'uuid', 'model', 'model sha256', 'answers'],
  settings.sessions.map((s) => [s.name, s.uuid, s.modelName, s.modelHash, s.answers]),
)}
${table(
  ['setting', 'value'],
  [
    ['embedder', `${settings.embedder.kind}: ${settings.embedder.name} (${settings.embedder.dimensions} dimensions)`],
    ['embedder hash', settings.embedder.hash],
    [
      'clustering',
      `agglomerative, ${settings.clustering.linkage} linkage, ${settings.clustering.metric} distance, cut at ${settings.clustering.cut}`,
    ],
    [
      'chosen k',
      `${settings.clustering.k} clusters of ${settings.clustering.terms} terms (silhouette ${fmt(settings.clustering.silhouette, 3)})`,
    ],
    ['analyst edits', `${settings.edits} (${settings.staleEdits} no longer match a label)`],
    ['reliability', settings.reliability],
    ['concept score', settings.score],
  ],
)}
</section>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Global explanations: ${esc(overview.name)}</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; color: #222; max-width: 1100px; margin: 0 auto; padding: 24px; }
h1 { font-size: 24px; } h2 { border-bottom: 2px solid #4e79a7; padding-bottom: 4px; margin-top: 36px; } h3 small { font-weight: normal; color: #666; font-size: 13px; }
table { border-collapse: collapse; margin: 10px 0; font-size: 12.5px; } th, td { border: 1px solid #ddd; padding: 3px 7px; text-align: left; vertical-align: top; } th { background: #f3f5f8; }
.figure { margin: 8px 0; overflow-x: auto; } .note { color: #555; } nav a { margin-right: 4px; }
.examples { display: flex; flex-wrap: wrap; gap: 8px; align-items: flex-start; } .examples h4 { width: 100%; margin: 10px 0 0; }
figure { margin: 0; width: 118px; font-size: 11px; } figcaption { color: #555; word-break: break-word; }
.trend { display: inline-block; margin-right: 12px; } .trend.rising { color: #2a7a2a; } .trend.falling { color: #b03a2e; }
section.class { page-break-inside: avoid; }
@media print { body { max-width: none; padding: 0; } nav { display: none; } }
</style></head><body>${body}</body></html>`;
}

export function chromiumPath(): string | null {
  const candidates = [
    process.env.XAIWS_CHROMIUM,
    '/usr/bin/chromium',
    '/usr/bin/chromium-browser',
    '/usr/bin/google-chrome',
    '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
    'C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe',
  ];
  return candidates.find((p): p is string => !!p && existsSync(p)) ?? null;
}

/** Prints the HTML to `pdfPath` with headless Chromium (the CLI and the browser host); refuses by name when none is installed. */
export async function printWithChromium(html: string, pdfPath: string): Promise<string> {
  const browser = chromiumPath();
  if (!browser)
    throw new ApiError(
      'pdf_unavailable',
      'No Chromium or Chrome found to print the PDF (looked at XAIWS_CHROMIUM and the usual install paths); save the HTML report and print it from a browser',
    );
  const dir = mkdtempSync(join(tmpdir(), 'xaiws-report-'));
  try {
    const htmlPath = join(dir, 'report.html');
    writeFileSync(htmlPath, html);
    await new Promise<void>((resolve, reject) => {
      const child = spawn(
        browser,
        [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
          `--user-data-dir=${join(dir, 'profile')}`,
          '--no-pdf-header-footer',
          `--print-to-pdf=${pdfPath}`,
          pathToFileURL(htmlPath).href,
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
      child.on('error', reject);
      child.on('exit', (code) => {
        clearTimeout(timer);
        if (code === 0 && existsSync(pdfPath) && statSync(pdfPath).size > 0) resolve();
        else
          reject(
            new ApiError(
              'pdf_unavailable',
              `Chromium (${browser}) could not print the PDF (exit ${code}): ${stderr.trim().split('\n').slice(-2).join(' ')}`,
            ),
          );
      });
    });
    return pdfPath;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
