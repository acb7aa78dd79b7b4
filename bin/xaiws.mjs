#!/usr/bin/env node
// The headless CLI. The services are TypeScript; tsx's loader runs them from source.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src-main/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
