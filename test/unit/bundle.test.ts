import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBundle, type Inspect } from '../../src-main/models/bundle.ts';
import { Workstation } from '../../src-main/workstation.ts';
import { ApiError } from '../../src-shared/errors.ts';
import { tempDir } from '../support/fixtures.ts';
import { ROOT } from '../support/host.ts';
import { checkBundle } from '../../src-main/models/service.ts';

// XAIWS_TEST_BUNDLE checks another bundle (your own) with the same tests.
const BUNDLE = process.env.XAIWS_TEST_BUNDLE ?? join(ROOT, 'resources/models/fashion-mnist-cnn');

interface Values {
  shape: number[];
  data: number[];
  type?: 'int64';
}
interface Check {
  model: string;
  inputs: Record<string, Values>;
  outputs: Record<string, Values>;
}
const REFERENCE = JSON.parse(readFileSync(join(BUNDLE, 'reference.json'), 'utf8')) as {
  tolerance: number;
  checks: Check[];
};

let workstation: Workstation;
let inspect: Inspect;
beforeAll(() => {
  workstation = new Workstation({ dataDir: tempDir(), resourcesDir: join(ROOT, 'resources'), transport: 'cli' });
  inspect = (path, sha256) => workstation.pool.call('inspect', { key: sha256, path });
});
afterAll(() => workstation.shutdown());

/** A copy of the committed bundle, changed by `edit`, in a fresh folder. */
function tamperedCopy(edit: (dir: string, bundle: Record<string, any>) => void): string {
  const dir = join(tempDir(), 'bundle');
  cpSync(BUNDLE, dir, { recursive: true });
  const bundle = JSON.parse(readFileSync(join(dir, 'bundle.json'), 'utf8'));
  edit(dir, bundle);
  writeFileSync(join(dir, 'bundle.json'), JSON.stringify(bundle));
  return dir;
}

async function refusal(dir: string): Promise<ApiError> {
  const error = await loadBundle(dir, inspect).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ApiError);
  return error as ApiError;
}

describe('the committed model bundle', () => {
  it('loads: every role, hashes, shapes and prototypes check out', async () => {
    const loaded = await loadBundle(BUNDLE, inspect);
    expect(Object.keys(loaded.models).sort()).toEqual([
      'cae-decoder',
      'cae-encoder',
      'classifier',
      'dxai',
      'infodisent',
    ]);
    expect(loaded.caePrototypes?.classes).toHaveLength(10);
    expect(loaded.infodisentPrototypes?.channels).toHaveLength(64);
    expect(loaded.bundle.models.dxai?.quality).toHaveProperty('globalBeta');
  });

  it('is answered by the bundles.check method with each model and its quality figures', async () => {
    const summary = await checkBundle(workstation, { path: BUNDLE });
    expect(summary.models.map((m) => m.role)).toContain('cae-encoder');
    expect(summary.classes[9]).toBe('Ankle boot');
  });

  for (const check of REFERENCE.checks) {
    it(`${check.model}: onnxruntime reproduces the exporter's outputs within ${REFERENCE.tolerance}`, async () => {
      const bundle = JSON.parse(readFileSync(join(BUNDLE, 'bundle.json'), 'utf8'));
      const session = await ort.InferenceSession.create(join(BUNDLE, bundle.models[check.model].file));
      const feeds: Record<string, ort.Tensor> = {};
      for (const [name, value] of Object.entries(check.inputs)) {
        feeds[name] =
          value.type === 'int64'
            ? new ort.Tensor('int64', BigInt64Array.from(value.data.map(BigInt)), value.shape)
            : new ort.Tensor('float32', Float32Array.from(value.data), value.shape);
      }
      const outputs = await session.run(feeds);
      for (const [name, expected] of Object.entries(check.outputs)) {
        const actual = outputs[name]!;
        expect(actual.dims).toEqual(expected.shape);
        const data = actual.data as Float32Array;
        let worst = 0;
        for (let i = 0; i < data.length; i++) worst = Math.max(worst, Math.abs(data[i]! - expected.data[i]!));
        expect(worst, `${check.model} output ${name}`).toBeLessThanOrEqual(REFERENCE.tolerance);
      }
      await session.release();
    });
  }
});

describe('bundles that are refused', () => {
  it('a model file changed after the bundle was written: names the file and both hashes', async () => {
    const dir = tamperedCopy((folder) => {
      const path = join(folder, 'dxai.onnx');
      const bytes = readFileSync(path);
      bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
      writeFileSync(path, bytes);
    });
    const error = await refusal(dir);
    expect(error.code).toBe('bundle_hash_mismatch');
    expect(error.message).toMatch(/dxai\.onnx has sha256 [0-9a-f]{64} but bundle\.json says [0-9a-f]{64}/);
  });

  it('a declared shape the model does not have: names the model, the tensor and both shapes', async () => {
    const dir = tamperedCopy((_folder, bundle) => {
      bundle.models.dxai.outputs[0].shape = ['N', 4, 1, 28, 28];
    });
    const error = await refusal(dir);
    expect(error.code).toBe('model_shape_mismatch');
    expect(error.message).toContain(
      'dxai.onnx (dxai): output "branches" has shape [?, 5, 1, 28, 28] but bundle.json declares [N, 4, 1, 28, 28]',
    );
  });

  it('a declared tensor name the model lacks, and a wrong element type', async () => {
    const renamed = tamperedCopy((_folder, bundle) => {
      bundle.models['cae-encoder'].outputs[0].name = 'style';
    });
    expect((await refusal(renamed)).message).toMatch(
      /declares output "style" but the model's outputs are class_code, individual_code/,
    );
    const retyped = tamperedCopy((_folder, bundle) => {
      bundle.models.dxai.inputs[1].type = 'float32';
    });
    expect((await refusal(retyped)).message).toMatch(/input "class" is int64 but bundle.json declares float32/);
  });

  it('a missing file, a path outside the folder, a newer format, a broken field', async () => {
    const missing = tamperedCopy((_folder, bundle) => {
      bundle.files.push({ path: 'extra.onnx', sha256: '0'.repeat(64), bytes: 1 });
    });
    expect((await refusal(missing)).code).toBe('bundle_file_missing');
    const escaping = tamperedCopy((_folder, bundle) => {
      bundle.files[0].path = '../classifier.onnx';
    });
    expect((await refusal(escaping)).message).toMatch(/\.\.\/classifier\.onnx leaves the bundle folder/);
    const newer = tamperedCopy((_folder, bundle) => {
      bundle.format = 'xaiws.bundle/7';
    });
    const tooNew = await refusal(newer);
    expect(tooNew.code).toBe('bundle_too_new');
    expect(tooNew.message).toContain('xaiws.bundle/7');
    const broken = tamperedCopy((_folder, bundle) => {
      bundle.files[1].sha256 = 'xyz';
    });
    expect((await refusal(broken)).message).toMatch(/field "files.1.sha256" is wrong.*got "xyz"/);
  });

  it('a listed file that is a link to a device or to a file outside the bundle: refused unread, no hash disclosed', async () => {
    const zero = tamperedCopy((dir) => {
      rmSync(join(dir, 'dxai.onnx'));
      symlinkSync('/dev/zero', join(dir, 'dxai.onnx'));
    });
    expect((await refusal(zero)).message).toMatch(/dxai\.onnx is a link to a file outside the bundle folder/);
    const secret = join(tempDir(), 'secret.txt');
    writeFileSync(secret, 'a private note the bundle should never read\n');
    const outside = tamperedCopy((dir) => {
      rmSync(join(dir, 'dxai.onnx'));
      symlinkSync(secret, join(dir, 'dxai.onnx'));
    });
    const error = await refusal(outside);
    expect(error.code).toBe('bundle_invalid');
    expect(error.message).toMatch(/outside the bundle folder/);
    expect(error.message).not.toContain(createHash('sha256').update(readFileSync(secret)).digest('hex').slice(0, 12));
    // A device inside the bundle's own folder is still not a file.
    const fifo = tamperedCopy((dir) => {
      rmSync(join(dir, 'dxai.onnx'));
      execFileSync('mkfifo', [join(dir, 'dxai.onnx')]);
    });
    expect((await refusal(fifo)).message).toMatch(/dxai\.onnx.*named pipe/);
  });

  it('prototypes that do not fit the models', async () => {
    const dir = tamperedCopy((folder, bundle) => {
      const path = join(folder, 'cae-prototypes.json');
      const prototypes = JSON.parse(readFileSync(path, 'utf8'));
      prototypes.classes.pop();
      writeFileSync(path, JSON.stringify(prototypes));
      // Re-hash so the content check, not the hash check, is what refuses it.
      const entry = bundle.files.find((f: { path: string }) => f.path === 'cae-prototypes.json');
      entry.sha256 = createHash('sha256').update(readFileSync(path)).digest('hex');
    });
    expect((await refusal(dir)).message).toMatch(/cae prototypes cover 9 classes, the bundle lists 10/);
  });
});
