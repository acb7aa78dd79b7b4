import type { Migration } from './types.ts';

/**
 * Which process runs a job: `host:pid`. A project opened while another process works on it (the app
 * and the CLI, say) leaves that process's jobs alone; only jobs whose process is gone are marked
 * interrupted, and then resumed or offered again.
 */
export const jobOwner: Migration = {
  version: 7,
  name: 'job-owner',
  sql: `
    ALTER TABLE jobs ADD COLUMN owner TEXT;
  `,
};
