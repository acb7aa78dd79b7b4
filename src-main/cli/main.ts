/**
 * The headless CLI: the same router and services as the app, JSON results on stdout, progress on
 * stderr, exit code 1 with {ok: false, error: {code, message}} on stdout when something fails.
 */
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { layerOfMethod, type Job, type MethodName, type Request, type Result } from '../../src-shared/contract.ts';
import { ApiError, isApiErrorShape, toApiError } from '../../src-shared/errors.ts';
import { createRouter, type Dispatch } from '../api/router.ts';
import { Workstation } from '../workstation.ts';
import { startCrowd } from '../transport/crowd.ts';
import { CAM_METHODS, type CamMethod } from '../explain/cam/maps.ts';
import { runBenchmark } from '../explain/benchmark.ts';
import { explainImages, listLayers, modelRef, parseMethod, parseSmoothing, parseTarget } from './explain.ts';
import { serve } from './serve.ts';
import { aggregateCommand } from './aggregate.ts';
import { generativeCommand } from './generative.ts';
import { mapCommand } from './map.ts';
import { conceptsCommand } from './concepts.ts';
import { tcavCommand } from './tcav.ts';
import { strategiesCommand } from './strategies.ts';
import { labelsCommand, RawOutput, ratingsAgreement, sessionAgreement } from './labels.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export const USAGE = `Usage: xaiws <command> [arguments]

  project create PATH [--name NAME]              create a project file
  project info PROJECT                           summary, datasets and models of a project
  import PROJECT SOURCE [--name N] [--labels F] [--classes a,b,c]
                                                 import a class-folder tree, IDX pair(s) or CSV
  model add PROJECT MODEL.onnx [--manifest M]    register an ONNX classifier with its manifest
  bundle check FOLDER                            validate a model bundle (hashes, shapes, data files)
  layers --model M.onnx [--manifest M.json]      the model's candidate target layers (JSON Lines)
  explain --model M.onnx [--manifest M.json] --method NAME --layer TENSOR [--target pred|INDEX]
          [--smoothing none|aug|eigen] IMAGE...
                                                 maps at layer resolution (pixel attributions at input
                                                 resolution, no --layer needed), one JSON line per image;
                                                 NAME: ${CAM_METHODS.join(', ')}
  decompose PROJECT --image ID [--model ID] [--class pred|INDEX] [--full]
                                                 DXAI parts of an image and the classifier on each
  counterfactual PROJECT --image ID [--model ID] [--target nearest|INDEX] [--reference IMAGE_ID] [--steps K] [--full]
                                                 CAE path: probabilities per step and the flip step
  components PROJECT --image ID [--model ID] [--class pred|INDEX] [--top K] [--full]
                                                 InfoDisent channels and their contributions to the logit
  labels sessions PROJECT                        the project's labelling sessions and their progress
  labels export PROJECT --session ID [--format csv|jsonl]
                                                 every answer with its provenance (CSV or JSON Lines)
  labels pack PROJECT --session ID --out PACK.xaiws
                                                 an annotator pack for a disconnected desktop
  labels merge PROJECT PACK.xaiws                merge a pack's answers back; conflicts are listed
  agreement PROJECT --session ID [--samples N]   Krippendorff's alpha, Fleiss' kappa, bootstrap 95 % CIs
  agreement --ratings FILE.csv [--level nominal|ordinal|interval] [--samples N]
                                                 the same for any item,annotator,value table
  aggregate PROJECT [--session ID,ID] [--faithfulness] [--table NAME [--format csv|json] | --out DIR]
                                                 global explanations: concepts, per-class atlas, method
                                                 ranking, agreement, disagreement (JSON; one table; or
                                                 every table as CSV in DIR); --faithfulness computes the
                                                 labelled maps' metrics first
  concepts --terms FILE                          the concepts the app would group these terms into (one
                                                 term or phrase a line; JSON {"concepts": [{name, terms}]})
  report PROJECT [--out REPORT.html] [--pdf REPORT.pdf] [--session ID,ID] [--faithfulness]
                                                 the self-contained HTML report (PDF through Chromium)
  explainers train PROJECT --model ID --dataset ID [--steps N] [--epochs N] [--roles dxai,cae,infodisent]
                                                 train DXAI, CAE and InfoDisent for the model on the
                                                 dataset (Python toolkit; resumes a stopped run)
  benchmark PROJECT --model ID --truth benchmark.json [--methods a,b] [--images N]
                                                 every method and DXAI against ground-truth masks:
                                                 pointing game, relevance mass and rank, the shortcut
  map PROJECT --model ID --dataset ID [--layer TENSOR] [--rebuild] [--full]
                                                 the dataset map: embeddings (penultimate layer by default),
                                                 UMAP, neighbours, mistakenness, hardness, uniqueness,
                                                 near-duplicates and leaks between splits; adds new images
                                                 to a stored map
  map PROJECT --model ID --similar IMAGE_ID [--top K]
                                                 an image's nearest neighbours on the stored map
  strategies PROJECT --model ID --dataset ID --class INDEX [--method NAME] [--layer TENSOR] [--images N] [--clusters K]
          [--full]                               SpRAy: the class's maps clustered spectrally (k by the
                                                 eigengap, or K), clusters ranked by unusualness
  tcav PROJECT --model ID --dataset ID [--layer A,B,C] [--samples RUNS] [--top CONCEPTS] [--full]
                                                 the concept atlas's concepts tested on the model (TCAV):
                                                 scores per class and layer, t-test against random CAVs
  infer PROJECT --model ID [--dataset ID] [--batch N]
                                                 classify a dataset (all datasets by default)
  serve [PROJECT] [--demo] [--port N] [--host H] [--open]
                                                 the workstation in a browser (local host)

Results are JSON on stdout; progress goes to stderr.`;

export function defaultWorkstation(transport: 'cli' | 'host'): Workstation {
  return new Workstation({
    dataDir: process.env.XAIWS_HOME ?? join(homedir(), '.xaiws'),
    resourcesDir: join(ROOT, 'resources'),
    transport,
    crowdHost: startCrowd,
  });
}

class Client {
  constructor(private readonly dispatch: Dispatch) {}

  async call<M extends MethodName>(method: M, request: Request<M>): Promise<Result<M>> {
    const envelope = await this.dispatch(method, request);
    if (!envelope.ok) throw new ApiError(envelope.error.code, envelope.error.message);
    return envelope.value as Result<M>;
  }
}

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      labels: { type: 'string' },
      classes: { type: 'string' },
      manifest: { type: 'string' },
      model: { type: 'string' },
      dataset: { type: 'string' },
      batch: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      image: { type: 'string' },
      class: { type: 'string' },
      reference: { type: 'string' },
      steps: { type: 'string' },
      epochs: { type: 'string' },
      truth: { type: 'string' },
      methods: { type: 'string' },
      images: { type: 'string' },
      roles: { type: 'string' },
      top: { type: 'string' },
      session: { type: 'string' },
      format: { type: 'string' },
      ratings: { type: 'string' },
      level: { type: 'string' },
      samples: { type: 'string' },
      out: { type: 'string' },
      table: { type: 'string' },
      pdf: { type: 'string' },
      faithfulness: { type: 'boolean' },
      rebuild: { type: 'boolean' },
      terms: { type: 'string' },
      similar: { type: 'string' },
      clusters: { type: 'string' },
      full: { type: 'boolean' },
      demo: { type: 'boolean' },
      method: { type: 'string' },
      layer: { type: 'string' },
      target: { type: 'string' },
      smoothing: { type: 'string' },
      open: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    process.stderr.write(`${USAGE}\n`);
    return command || values.help ? 0 : 2;
  }
  if (command === 'serve')
    return serve(defaultWorkstation('host'), {
      project: rest[0],
      demo: values.demo ?? !rest[0],
      port: values.port,
      host: values.host,
      open: values.open ?? false,
      rendererDir: join(ROOT, 'out', 'renderer'),
    });

  if (command === 'explain' || command === 'layers') return modelCommand(command, rest, values);
  if (command === 'agreement' && typeof values.ratings === 'string') {
    try {
      process.stdout.write(`${JSON.stringify(ratingsAgreement(values.ratings, values), null, 2)}\n`);
      return 0;
    } catch (error) {
      process.stdout.write(`${JSON.stringify({ ok: false, error: toApiError(error) }, null, 2)}\n`);
      process.stderr.write(`xaiws: ${toApiError(error).message}\n`);
      return 1;
    }
  }

  const workstation = defaultWorkstation('cli');
  const client = new Client(createRouter(workstation));
  workstation.onEvent((event, payload) => {
    if (event !== 'job.updated') return;
    const job = payload as Job;
    if (job.status === 'running' && job.total > 0)
      process.stderr.write(`\r${job.title}: ${job.stage} ${job.done}/${job.total}   `);
  });
  try {
    const output = await run(command, rest, values, client, workstation);
    process.stdout.write(output instanceof RawOutput ? output.text : `${JSON.stringify(output, null, 2)}\n`);
    return 0;
  } catch (error) {
    process.stdout.write(`${JSON.stringify({ ok: false, error: toApiError(error) }, null, 2)}\n`);
    process.stderr.write(`\nxaiws: ${toApiError(error).message}\n`);
    return 1;
  } finally {
    process.stderr.write('');
    await workstation.shutdown();
  }
}

type Values = Record<string, string | boolean | undefined>;

/** Project-free commands on one model file; their output is JSON Lines. */
async function modelCommand(command: 'explain' | 'layers', images: string[], values: Values): Promise<number> {
  const workstation = defaultWorkstation('cli');
  const write = (line: unknown) => process.stdout.write(`${JSON.stringify(line)}\n`);
  const text = (value: string | boolean | undefined) => (typeof value === 'string' ? value : undefined);
  try {
    // The workers start while the model is hashed (each start is about half a second from source).
    workstation.pool.warm();
    if (command === 'explain') workstation.images.warm();
    const model = await modelRef(text(values.model), text(values.manifest));
    if (command === 'layers') return await listLayers(workstation.pool, model, write);
    const method = parseMethod(text(values.method));
    const layer = text(values.layer) ?? layerOfMethod(method, '');
    if (!layer)
      throw new ApiError('invalid_request', 'Missing --layer TENSOR (list them with `xaiws layers --model M.onnx`)');
    const target = parseTarget(text(values.target), model.manifest.classes.length);
    const smoothing = parseSmoothing(text(values.smoothing));
    return await explainImages(
      workstation.pool,
      workstation.images,
      model,
      { method, layer, target, smoothing },
      images,
      write,
    );
  } catch (error) {
    write({ ok: false, error: toApiError(error) });
    process.stderr.write(`xaiws: ${toApiError(error).message}\n`);
    return 1;
  } finally {
    await workstation.shutdown();
  }
}

async function run(
  command: string,
  rest: string[],
  values: Values,
  client: Client,
  workstation: Workstation,
): Promise<unknown> {
  const need = (value: string | undefined, what: string) => {
    if (!value) throw new ApiError('invalid_request', `Missing ${what}\n\n${USAGE}`);
    return value;
  };
  const number = (value: string | boolean | undefined, what: string) => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < 1)
      throw new ApiError('invalid_request', `${what} must be a positive whole number (got "${value}")`);
    return parsed;
  };
  const waitFor = async (jobId: string) => {
    const job = await workstation.jobs.wait(jobId);
    process.stderr.write('\n');
    if (job.status === 'failed')
      throw job.error && isApiErrorShape(job.error)
        ? new ApiError(job.error.code, job.error.message)
        : new ApiError('internal', job.error?.message ?? 'job failed');
    return job;
  };
  const subject = `${command} ${rest[0] ?? ''}`.trim();
  if (subject === 'project create') {
    return client.call('projects.create', {
      path: resolve(need(rest[1], 'PATH')),
      name: values.name as string | undefined,
    });
  }
  if (subject === 'project info') {
    const summary = await client.call('projects.open', { path: need(rest[1], 'PROJECT') });
    return {
      ...summary,
      datasets: await client.call('datasets.list', {}),
      models: await client.call('models.list', {}),
    };
  }
  if (command === 'import') {
    await client.call('projects.open', { path: need(rest[0], 'PROJECT') });
    const classes =
      typeof values.classes === 'string' ? values.classes.split(',').map((name) => name.trim()) : undefined;
    const { jobId } = await client.call('datasets.import', {
      source: resolve(need(rest[1], 'SOURCE')),
      name: values.name as string | undefined,
      labels: typeof values.labels === 'string' ? resolve(values.labels) : undefined,
      classes,
    });
    const job = await waitFor(jobId);
    const datasetId = job.result?.datasetId as number | undefined;
    const issues = datasetId ? await client.call('datasets.issues', { datasetId }) : [];
    return { status: job.status, ...job.result, issues };
  }
  if (subject === 'model add') {
    await client.call('projects.open', { path: need(rest[1], 'PROJECT') });
    return client.call('models.add', {
      path: resolve(need(rest[2], 'MODEL.onnx')),
      manifestPath: typeof values.manifest === 'string' ? resolve(values.manifest) : undefined,
    });
  }
  if (subject === 'bundle check') {
    return client.call('bundles.check', { path: resolve(need(rest[1], 'FOLDER')) });
  }
  if (command === 'decompose' || command === 'counterfactual' || command === 'components') {
    await client.call('projects.open', { path: need(rest[0], 'PROJECT') });
    const models = await client.call('models.list', {});
    const modelId = values.model ? number(values.model, '--model') : models[0]?.id;
    if (!modelId) throw new ApiError('model_not_found', 'The project has no models; add one with `xaiws model add`');
    return generativeCommand(client, command, { modelId, imageId: number(values.image, '--image'), values, number });
  }
  if (command === 'labels') {
    await client.call('projects.open', { path: need(rest[1], 'PROJECT') });
    return labelsCommand(client, rest[0] ?? '', values, number, rest.slice(2));
  }
  if (command === 'agreement') {
    await client.call('projects.open', { path: need(rest[0], 'PROJECT') });
    return sessionAgreement(client, values, number);
  }
  if (command === 'aggregate' || command === 'report') {
    const project = need(rest[0], 'PROJECT');
    await client.call('projects.open', { path: project });
    return aggregateCommand(client, command, project, values, waitFor);
  }
  if (subject === 'explainers train') {
    await client.call('projects.open', { path: need(rest[1], 'PROJECT') });
    const roles = typeof values.roles === 'string' ? values.roles.split(',').map((role) => role.trim()) : undefined;
    const { jobId } = await client.call('explainers.train', {
      modelId: number(values.model, '--model'),
      datasetId: number(values.dataset, '--dataset'),
      steps: values.steps ? number(values.steps, '--steps') : undefined,
      epochs: values.epochs ? number(values.epochs, '--epochs') : undefined,
      roles: roles as ('dxai' | 'cae' | 'infodisent')[] | undefined,
    });
    const job = await waitFor(jobId);
    return { status: job.status, ...job.result };
  }
  if (command === 'benchmark') {
    await client.call('projects.open', { path: need(rest[0], 'PROJECT') });
    const methods = typeof values.methods === 'string' ? values.methods.split(',').map((m) => m.trim()) : undefined;
    for (const method of methods ?? [])
      if (!(CAM_METHODS as readonly string[]).includes(method))
        throw new ApiError('invalid_request', `Unknown method "${method}"; one of ${CAM_METHODS.join(', ')}`);
    return runBenchmark(
      workstation,
      {
        modelId: number(values.model, '--model'),
        truth: resolve(need(values.truth as string | undefined, '--truth benchmark.json')),
        methods: methods as CamMethod[] | undefined,
        images: values.images ? number(values.images, '--images') : undefined,
      },
      (stage, done, total) => process.stderr.write(`\r${stage} ${done}/${total}   `),
    );
  }
  if (command === 'concepts') return conceptsCommand(client, need(values.terms as string | undefined, '--terms FILE'));
  if (command === 'map') {
    await client.call('projects.open', { path: need(rest[0], 'PROJECT') });
    return mapCommand(client, values, number, waitFor);
  }
  if (command === 'strategies') {
    await client.call('projects.open', { path: need(rest[0], 'PROJECT') });
    return strategiesCommand(client, values, number, waitFor);
  }
  if (command === 'tcav') {
    await client.call('projects.open', { path: need(rest[0], 'PROJECT') });
    return tcavCommand(client, values, number, waitFor);
  }
  if (command === 'infer') {
    await client.call('projects.open', { path: need(rest[0], 'PROJECT') });
    const modelId = number(values.model, '--model');
    const datasets = values.dataset
      ? [number(values.dataset, '--dataset')]
      : (await client.call('datasets.list', {})).map((d) => d.id);
    if (datasets.length === 0) throw new ApiError('dataset_not_found', 'The project has no datasets; import one first');
    const results = [];
    for (const datasetId of datasets) {
      const { jobId } = await client.call('inference.run', {
        modelId,
        datasetId,
        batchSize: values.batch ? number(values.batch, '--batch') : undefined,
      });
      const job = await waitFor(jobId);
      results.push({ datasetId, status: job.status, ...job.result });
    }
    return results.length === 1 ? results[0] : results;
  }
  throw new ApiError('invalid_request', `Unknown command "${subject}"\n\n${USAGE}`);
}
