/**
 * One handler per contract method, each the service function that does the work: a newcomer finds
 * any capability in one hop from the contract. Every service takes the one Context
 * (runtime/context.ts) and the request the router has already validated.
 */
import type { MethodName, ParsedRequest, Result } from '../../src-shared/contract.ts';
import type { Context } from '../runtime/context.ts';
import * as aggregate from '../aggregate/service.ts';
import * as datasets from '../datasets/service.ts';
import { classCodeMap, indexDataset } from '../explain/dataset-index.ts';
import * as generative from '../explain/generative-service.ts';
import { explainerPreview, trainExplainers } from '../explain/train-explainers.ts';
import { benchmarkResult, benchmarkTruths, runChecks } from '../explain/benchmark-service.ts';
import { buildDatasetMap, getDatasetMap, similarImages } from '../explain/dataset-map.ts';
import { runStrategies, strategiesResult } from '../explain/strategies.ts';
import { runTcav, tcavResult } from '../aggregate/tcav.ts';
import * as explain from '../explain/service.ts';
import { confusion, runInference } from '../inference/service.ts';
import * as labels from '../labels/service.ts';
import { addModel, checkBundle, listModels } from '../models/service.ts';
import { openDialog, saveDialog } from '../services/dialogs.ts';
import { cancelJob, listJobs, runAgain } from '../services/jobs.ts';
import * as projects from '../services/projects.ts';

export type Handler<M extends MethodName> = (ctx: Context, request: ParsedRequest<M>) => Result<M> | Promise<Result<M>>;
type Handlers = { [M in MethodName]: Handler<M> };

export const handlers: Handlers = {
  'app.info': projects.appInfo,
  'dialogs.open': openDialog,
  'dialogs.save': saveDialog,
  'projects.create': projects.createProject,
  'projects.open': projects.openProject,
  'projects.openDemo': projects.openDemo,
  'projects.current': projects.currentProject,
  'projects.recent': projects.recentProjects,
  'datasets.list': datasets.listDatasets,
  'datasets.import': datasets.importDataset,
  'datasets.issues': datasets.datasetIssues,
  'images.list': datasets.listImages,
  'images.get': datasets.getImage,
  'models.list': listModels,
  'models.add': addModel,
  'bundles.check': checkBundle,
  'inference.run': runInference,
  'explain.layers': explain.layers,
  'explain.image': explain.explainImage,
  'explain.layerwise': explain.explainLayerwise,
  'explain.metrics': explain.imageMetrics,
  'explain.sanity': explain.sanityCheck,
  'explain.metricsSelection': explain.metricsSelection,
  'explain.selection': explain.explainSelection,
  'explain.cached': explain.cachedExplanations,
  'explainers.train': trainExplainers,
  'explainers.preview': explainerPreview,
  'benchmark.truths': benchmarkTruths,
  'benchmark.run': runChecks,
  'benchmark.result': benchmarkResult,
  'map.build': buildDatasetMap,
  'map.get': getDatasetMap,
  'map.similar': similarImages,
  'strategies.run': runStrategies,
  'strategies.result': strategiesResult,
  'tcav.run': runTcav,
  'tcav.result': tcavResult,
  'generative.decomposition': generative.decomposition,
  'generative.counterfactual': generative.counterfactual,
  'generative.components': generative.components,
  'generative.selection': generative.generativeSelection,
  'generative.index': indexDataset,
  'generative.codeMap': classCodeMap,
  'overlays.choices': generative.overlayChoices,
  'overlays.maps': generative.overlays,
  'annotators.list': labels.listAnnotators,
  'annotators.add': labels.addAnnotator,
  'labels.sources': labels.labelSources,
  'labels.preview': labels.previewLabels,
  'labels.create': labels.createSession,
  'labels.sessions': labels.listSessions,
  'labels.session': labels.getSession,
  'labels.setState': labels.setSessionState,
  'labels.removeSeat': labels.removeSeat,
  'labels.next': labels.nextTask,
  'labels.answer': labels.answerTask,
  'labels.task': labels.reopenTask,
  'labels.history': labels.taskHistory,
  'labels.reveal': labels.revealStep,
  'labels.leaderboard': labels.seatLeaderboard,
  'labels.agreement': labels.agreement,
  'labels.export': labels.exportLabels,
  'labels.exportPack': labels.exportPack,
  'labels.mergePack': labels.mergePack,
  'labels.openCrowd': labels.openCrowd,
  'labels.closeCrowd': labels.closeCrowd,
  'aggregate.run': aggregate.runAggregate,
  'aggregate.edits': aggregate.conceptEdits,
  'aggregate.groupTerms': aggregate.groupTerms,
  'aggregate.edit': aggregate.editConcept,
  'aggregate.undoEdit': aggregate.undoConceptEdit,
  'aggregate.faithfulness': aggregate.faithfulness,
  'aggregate.labelNext': aggregate.labelNext,
  'aggregate.examples': aggregate.examples,
  'aggregate.export': aggregate.exportAggregate,
  'aggregate.report': aggregate.report,
  'stats.confusion': confusion,
  'jobs.list': listJobs,
  'jobs.cancel': cancelJob,
  'jobs.retry': runAgain,
};
