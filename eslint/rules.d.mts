import type { ESLint } from 'eslint';
declare const plugin: ESLint.Plugin;
export default plugin;
export function layerOf(path: string): { name: string; rank: number } | undefined;
