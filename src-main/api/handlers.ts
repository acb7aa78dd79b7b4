/** One handler per contract method. Thin: argument shaping and service calls only. */
import type { MethodName, ParsedRequest, Result } from '../../src-shared/contract.ts';
import { ApiError } from '../../src-shared/errors.ts';
import type { Workstation } from '../workstation.ts';
import { classCodeMap } from '../explain/dataset-index.ts';
import { createSession, previewSession } from '../labels/sessions.ts';
import { sourceChoices } from '../labels/sources.ts';
import { answer, history, leaderboard, next, reopen, reveal } from '../labels/tasks.ts';
import { exportAnswers, sessionAgreement } from '../labels/report.ts';
import { exportPack, mergePack } from '../labels/packs.ts';
import { components, counterfactual, decomposition, overlayChoices, overlays } from '../explain/generative-service.ts';
import { addConceptEdit, aggregate, exportTable, labelNextFor, tables } from '../aggregate/service.ts';
import { exampleImage } from '../aggregate/images.ts';
import { printPdf, reportHtml } from '../aggregate/report.ts';

type Handlers = { [M in MethodName]: (ws: Workstation, request: ParsedRequest<M>) => Result<M> | Promise<Result<M>> };

const VERSION = '0.1.0';

export const handlers: Handlers = {
  'app.info': (ws) => ({ version: VERSION, transport: ws.options.transport, providers: ws.pool.provider }),
  'projects.create': (ws, { path, name }) => ws.createProject(path, name),
  'projects.open': (ws, { path }) => ws.openProject(path),
  'projects.openDemo': (ws) => ws.openDemo(),
  'projects.current': (ws) => (ws.hasProject ? ws.project.summary() : null),
  'projects.recent': (ws) => ws.recent(),
  'datasets.list': (ws) => ws.project.datasets.list(),
  'datasets.import': (ws, request) => ({ jobId: ws.startImport(request).id }),
  'datasets.issues': (ws, { datasetId }) => ws.project.datasets.issues(datasetId),
  'images.list': (ws, query) => ws.project.images.query(query),
  'images.get': (ws, { imageId, modelId }) => {
    const detail = ws.project.images.detail(imageId);
    if (!detail) throw new ApiError('image_not_found', `No image with id ${imageId} in this project`);
    const prediction = modelId === undefined ? null : ws.project.predictions.forImage(modelId, imageId, ws.model(modelId).manifest.classes);
    return { ...detail, prediction };
  },
  'models.list': (ws) => ws.project.models.list(),
  'models.add': (ws, { path, manifestPath }) => ws.addModel(path, manifestPath),
  'bundles.check': (ws, { path }) => ws.checkBundle(path),
  'inference.run': (ws, { modelId, datasetId, batchSize }) => ({ jobId: ws.startInference(modelId, datasetId, batchSize).id }),
  'explain.layers': (ws, { modelId }) => ws.layers(modelId),
  'explain.image': (ws, request) => ws.explainImage(request),
  'explain.layerwise': (ws, request) => ws.explainLayerwise(request),
  'explain.metrics': (ws, request) => ws.imageMetrics(request),
  'explain.sanity': (ws, request) => ws.sanityCheck(request),
  'explain.metricsSelection': (ws, request) => ({ jobId: ws.startMetrics(request).id }),
  'explain.selection': (ws, request) => ({ jobId: ws.startExplain(request).id }),
  'explain.cached': (ws, { modelId, imageId }) => ws.cachedExplanations(modelId, imageId),
  'generative.decomposition': (ws, request) => decomposition(ws.generativeContext(request.modelId), request),
  'generative.counterfactual': (ws, request) => counterfactual(ws.generativeContext(request.modelId), request),
  'generative.components': (ws, request) => components(ws.generativeContext(request.modelId), request),
  'generative.selection': (ws, request) => ({ jobId: ws.startGenerative(request).id }),
  'generative.index': (ws, request) => ({ jobId: ws.startIndex(request).id }),
  'generative.codeMap': (ws, request) => classCodeMap(ws.generativeContext(request.modelId), request),
  'overlays.choices': (ws, { modelId }) => overlayChoices(ws.generativeContext(modelId)),
  'overlays.maps': (ws, { modelId, source, imageIds }) => overlays(ws.generativeContext(modelId), source, imageIds),
  'annotators.list': (ws) => ws.project.labels.annotators(),
  'annotators.add': (ws, { name, role }) => ws.project.labels.addAnnotator(name, role),
  'labels.sources': (ws, { modelId, filter }) =>
    sourceChoices(ws.generativeContext(modelId), filter && Array.from(ws.project.images.matchingIds({ ...filter, modelId, sort: 'id' }))),
  'labels.preview': (ws, request) => previewSession(ws.generativeContext(request.modelId), request),
  'labels.create': async (ws, request) => {
    const sessionId = await createSession(ws.generativeContext(request.modelId), request);
    ws.emit('labels.changed', { sessionId });
    return ws.labels.detail(sessionId);
  },
  'labels.sessions': (ws) => ws.labels.summaries(),
  'labels.session': (ws, { sessionId }) => ws.labels.detail(sessionId),
  'labels.setState': (ws, { sessionId, state, confirm }) => ws.labels.setState(sessionId, state, confirm),
  'labels.removeSeat': (ws, { sessionId, seatId }) => ws.labels.removeSeat(sessionId, seatId),
  'labels.next': (ws, { sessionId, annotatorId }) => next(ws.project, ws.labels.seat(sessionId, annotatorId), ws.labels.inlineImage),
  'labels.answer': (ws, { sessionId, annotatorId, taskId, answer: given, shownAt }) => {
    const ack = answer(ws.project, ws.labels.seat(sessionId, annotatorId), taskId, given, 'local', ws.labels.inlineImage, shownAt);
    ws.emit('labels.changed', { sessionId });
    return ack;
  },
  'labels.task': (ws, { sessionId, annotatorId, taskId }) => reopen(ws.project, ws.labels.seat(sessionId, annotatorId), taskId, ws.labels.inlineImage),
  'labels.history': (ws, { sessionId, annotatorId }) => history(ws.project, ws.labels.seat(sessionId, annotatorId)),
  'labels.reveal': (ws, { sessionId, annotatorId, taskId, step }) => reveal(ws.project, ws.labels.seat(sessionId, annotatorId), taskId, step),
  'labels.leaderboard': (ws, { sessionId, annotatorId }) => leaderboard(ws.project, ws.labels.seat(sessionId, annotatorId)),
  'labels.agreement': (ws, { sessionId, samples }) => sessionAgreement(ws.project, sessionId, samples),
  'labels.export': (ws, { sessionId, format }) => {
    const session = ws.labels.session(sessionId);
    const text = exportAnswers(ws.project, sessionId, format);
    const answers = ws.project.labels.counts(sessionId).answered;
    return { filename: `${session.name.replace(/[^\w.-]+/g, '_')}-answers.${format}`, text, answers };
  },
  'labels.exportPack': (ws, { sessionId, path }) => exportPack(ws.project, sessionId, path),
  'labels.mergePack': async (ws, { path }) => {
    const report = await mergePack(ws.project, path);
    const session = ws.project.labels.sessionByUuid(report.session);
    if (session) ws.emit('labels.changed', { sessionId: session.id });
    return report;
  },
  'labels.openCrowd': (ws, { sessionId, host, port }) => ws.labels.openCrowd(sessionId, host, port),
  'labels.closeCrowd': async (ws, { sessionId }) => ({ closed: await ws.labels.closeCrowd(sessionId) }),
  'aggregate.run': (ws, { sessionIds }) => aggregate(ws.aggregation, sessionIds),
  'aggregate.edits': (ws) => ws.project.aggregate.edits(),
  'aggregate.edit': (ws, edit) => addConceptEdit(ws.project, edit),
  'aggregate.undoEdit': (ws, { id }) => ({ removed: ws.project.aggregate.removeEdits(id) }),
  'aggregate.faithfulness': (ws, request) => ({ jobId: ws.startFaithfulness(request).id }),
  'aggregate.labelNext': (ws, { sessionId }) => labelNextFor(ws.aggregation, sessionId),
  'aggregate.examples': async (ws, { itemUuids }) => Promise.all(itemUuids.map(async (itemUuid) => ({ itemUuid, src: await exampleImage(ws.project, itemUuid) }))),
  'aggregate.export': async (ws, { sessionIds, table, format }) => {
    const result = await aggregate(ws.aggregation, sessionIds);
    const text = exportTable(result, table, format);
    return { filename: `${ws.project.name.replace(/[^\w.-]+/g, '_')}-${table}.${format}`, text, rows: tables(result)[table].length };
  },
  'aggregate.report': async (ws, { sessionIds, pdf }) => {
    const html = await reportHtml(ws.project, await aggregate(ws.aggregation, sessionIds));
    return { filename: `${ws.project.name.replace(/[^\w.-]+/g, '_')}-report.html`, html, pdf: pdf ? await printPdf(html, pdf) : null };
  },
  'stats.confusion': (ws, { modelId, datasetId }) => {
    const model = ws.model(modelId);
    return ws.project.predictions.confusion(modelId, datasetId, model.manifest.classes, ws.project.datasets.classes(datasetId));
  },
  'jobs.list': (ws) => ws.jobs.list(),
  'jobs.cancel': (ws, { jobId }) => ({ cancelled: ws.jobs.cancel(jobId) }),
  'jobs.retry': (ws, { jobId }) => ({ jobId: ws.retryJob(jobId).id }),
};
