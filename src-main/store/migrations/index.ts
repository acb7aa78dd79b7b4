/**
 * Numbered migrations. Each runs once, in order, inside one transaction together with the bump of
 * `PRAGMA user_version`; a migration is never edited after it has shipped, only followed by a new one.
 */
import { initial } from './0001-initial.ts';
import { explanations } from './0002-explanations.ts';
import { layerClusters } from './0003-layer-clusters.ts';
import { generative } from './0004-generative.ts';
import { labels } from './0005-labels.ts';
import { aggregate } from './0006-aggregate.ts';
import { jobOwner } from './0007-job-owner.ts';
import type { Migration } from './types.ts';

export type { Migration };

export const MIGRATIONS: readonly Migration[] = [
  initial,
  explanations,
  layerClusters,
  generative,
  labels,
  aggregate,
  jobOwner,
];

export const LATEST_VERSION = MIGRATIONS.reduce((max, migration) => Math.max(max, migration.version), 0);
