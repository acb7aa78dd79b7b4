/**
 * The layers of docs/ARCHITECTURE.md (and DESIGN.md), lowest first. A file belongs to the first layer
 * with a pattern that matches its path (`*` within a folder, `**` across folders); a file imports only
 * from its own layer or lower ones. Files outside every layer (tests, benchmarks, scripts) are not
 * checked against the order; the renderer and the preload have rules of their own (eslint/rules.mjs).
 */
export const LAYERS = [
  { name: 'shared', files: ['src-shared/**'] },
  { name: 'store', files: ['src-main/store/**', 'src-main/io/**'] },
  {
    name: 'engines',
    files: [
      'src-main/models/onnx/**',
      'src-main/models/gradient/**',
      'src-main/explain/cam/**',
      'src-main/explain/dxai/**',
      'src-main/explain/counterfactual/**',
      'src-main/explain/infodisent/**',
      'src-main/explain/layers/**',
      'src-main/explain/metrics/**',
      'src-main/explain/generative/**',
      'src-main/explain/map/**',
      'src-main/inference/runtime/**',
      'src-main/datasets/read/**',
      'src-main/aggregate/embedding/**',
      'src-main/imaging/**',
    ],
  },
  { name: 'workers', files: ['src-main/workers/**'] },
  {
    name: 'services',
    files: [
      'src-main/models/**',
      'src-main/datasets/**',
      'src-main/explain/**',
      'src-main/inference/**',
      'src-main/labels/**',
      'src-main/aggregate/**',
      'src-main/runtime/**',
      'src-main/services/**',
      'src-main/workstation.ts',
    ],
  },
  { name: 'api', files: ['src-main/api/**'] },
  { name: 'transport', files: ['src-main/transport/**'] },
  { name: 'app', files: ['src-main/app/**', 'src-main/cli/**'] },
];

/** Only these may import `electron` (the preload too: it is the bridge). */
export const ELECTRON_ALLOWED = ['src-main/app/**', 'src-main/transport/ipc.ts', 'src-preload/**'];

/** Folders whose files and subfolders are checked for import circles. */
export const CHECKED_ROOTS = ['src-shared', 'src-main', 'src-renderer', 'src-preload'];
