/**
 * The layer rule (eslint/rules.mjs) on a small project of its own: an upward import, a file circle,
 * a folder circle, electron outside app/, the renderer reaching into src-main, and Node in src-shared
 * are each reported on the import that does it; the same files without them pass.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, expect, it } from 'vitest';
import xaiws from '../../eslint/rules.mjs';
import { tempDir } from '../support/fixtures.ts';

async function lint(files: Record<string, string>): Promise<string[]> {
  const root = tempDir('xaiws-lint-');
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  const eslint = new ESLint({
    cwd: root,
    overrideConfigFile: true,
    overrideConfig: [
      {
        files: ['**/*.ts'],
        languageOptions: { parser: tseslint.parser },
        plugins: { xaiws },
        rules: { 'xaiws/layers': 'error' },
      },
    ],
  });
  const results = await eslint.lintFiles(Object.keys(files));
  return results.flatMap((result) =>
    result.messages.map((m) => `${result.filePath.slice(root.length + 1)}: ${m.message}`),
  );
}

describe('the layer rule', () => {
  it('passes imports that go down the layers', async () => {
    expect(
      await lint({
        'src-shared/errors.ts': 'export const x = 1;\n',
        'src-main/store/project.ts': "import { x } from '../../src-shared/errors.ts';\nexport const y = x;\n",
        'src-main/workers/client.ts': "import { y } from '../store/project.ts';\nexport const z = y;\n",
        'src-main/app/main.ts':
          "import { app } from 'electron';\nimport { z } from '../workers/client.ts';\nexport const w = [app, z];\n",
      }),
    ).toEqual([]);
  });

  it('reports an upward import, electron outside app/, the renderer in src-main and Node in src-shared', async () => {
    const problems = await lint({
      'src-main/store/project.ts': "import { z } from '../workers/client.ts';\nexport const y = z;\n",
      'src-main/workers/client.ts': "import { app } from 'electron';\nexport const z = app;\n",
      'src-renderer/lib/api.ts': "import { z } from '../../src-main/workers/client.ts';\nexport const r = z;\n",
      'src-shared/paths.ts': "import { join } from 'node:path';\nexport const p = join;\n",
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^src-main\/store\/project\.ts: .*\(layer store\) imports src-main\/workers\/client\.ts \(layer workers\)/,
        ),
        expect.stringMatching(/^src-main\/workers\/client\.ts: .*imports electron/),
        expect.stringMatching(/^src-renderer\/lib\/api\.ts: .*only through the contract/),
        expect.stringMatching(/^src-shared\/paths\.ts: src-shared stays environment-free/),
      ]),
    );
  });

  it('reports circles between files and between folders, on the imports that close them', async () => {
    const problems = await lint({
      'src-main/store/migrations/index.ts':
        "import { one } from './0001-one.ts';\nexport interface Migration { version: number }\nexport const all = [one];\n",
      'src-main/store/migrations/0001-one.ts':
        "import type { Migration } from './index.ts';\nexport const one: Migration = { version: 1 };\n",
      'src-main/labels/hub.ts': "import { start } from './crowd/start.ts';\nexport const hub = start;\n",
      'src-main/labels/crowd/start.ts':
        "import type { hub } from '../hub.ts';\nexport const start = 1 as unknown as typeof hub;\n",
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^src-main\/store\/migrations\/0001-one\.ts: import circle: .*index\.ts -> .*0001-one\.ts -> .*index\.ts/,
        ),
        expect.stringMatching(/^src-main\/labels\/hub\.ts: .*circle/),
        expect.stringMatching(
          /^src-main\/labels\/crowd\/start\.ts: folder circle: src-main\/labels\/ -> src-main\/labels\/crowd\/ -> src-main\/labels\/|^src-main\/labels\/crowd\/start\.ts: import circle/,
        ),
      ]),
    );
  });
});
