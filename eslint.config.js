// Lint: the layer rule of docs/ARCHITECTURE.md (eslint/rules.mjs, its table in eslint/layers.mjs) and
// the size limits of the code style (no file over 400 lines, no Svelte component over 200). Formatting
// is Prettier's job (.prettierrc), types are tsc's and svelte-check's.
import tseslint from 'typescript-eslint';
import svelteParser from 'svelte-eslint-parser';
import xaiws from './eslint/rules.mjs';

export default [
  { ignores: ['out/**', 'dist/**', 'node_modules/**', 'native/**', 'training/**', 'resources/**', '**/*.d.ts'] },
  {
    files: [
      'src-*/**/*.ts',
      'src-*/**/*.mjs',
      'test/**/*.ts',
      'bench/**/*.ts',
      'scripts/**/*.{ts,mjs}',
      'eslint/**/*.mjs',
      'bin/**/*.mjs',
    ],
    languageOptions: { parser: tseslint.parser, sourceType: 'module' },
  },
  {
    files: ['src-renderer/**/*.svelte'],
    languageOptions: { parser: svelteParser, parserOptions: { parser: tseslint.parser } },
  },
  {
    files: ['src-*/**/*.{ts,mjs,svelte}'],
    plugins: { xaiws },
    rules: { 'xaiws/layers': 'error' },
  },
  {
    files: ['src-*/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.{ts,mjs}'],
    rules: { 'max-lines': ['error', { max: 400 }] },
  },
  {
    files: ['src-renderer/**/*.svelte'],
    rules: { 'max-lines': ['error', { max: 200 }] },
  },
];
