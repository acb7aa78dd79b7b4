/**
 * The one loading helper of every API-fed view (Loaded): a newer call wins over an older answer that
 * arrives late, a failed call leaves no value, `keep` shows the old value while a new one loads, and
 * reset drops the answer of a call under way.
 */
import { describe, expect, it } from 'vitest';
import { Loaded } from '../../src-renderer/lib/loaded.svelte.ts';
import { deferred } from '../support/fake-api.ts';

describe('Loaded', () => {
  it('keeps the newest call when an older answer arrives after it', async () => {
    const loaded = new Loaded<string>();
    const older = deferred<string>();
    const newer = deferred<string>();
    const first = loaded.run(() => older.promise);
    const second = loaded.run(() => newer.promise);
    newer.resolve('new');
    await second;
    older.resolve('old');
    await first;
    expect([loaded.value, loaded.loading, loaded.error]).toEqual(['new', false, null]);
  });

  it('leaves no value after a failure, and shows the old value while loading only with keep', async () => {
    const loaded = new Loaded<number>();
    await loaded.run(async () => 1);
    const pending = deferred<number>();
    const kept = loaded.run(() => pending.promise, { keep: true });
    expect([loaded.value, loaded.loading]).toEqual([1, true]);
    pending.reject(new Error('the model file changed'));
    await kept;
    expect([loaded.value, loaded.error, loaded.loading]).toEqual([null, 'the model file changed', false]);
    await loaded.run(async () => 2);
    const cleared = deferred<number>();
    const run = loaded.run(() => cleared.promise);
    expect(loaded.value).toBeNull();
    cleared.resolve(3);
    await run;
    expect(loaded.value).toBe(3);
  });

  it('drops the answer of a call under way after reset, and hands the value to onValue first', async () => {
    const loaded = new Loaded<string>();
    const pending = deferred<string>();
    const seen: string[] = [];
    const run = loaded.run(() => pending.promise, { onValue: (value) => seen.push(value) });
    loaded.reset();
    pending.resolve('late');
    await run;
    expect([loaded.value, loaded.loading, seen]).toEqual([null, false, []]);
    await loaded.run(async () => 'now', { onValue: (value) => seen.push(`${value}:${loaded.value}`) });
    expect(seen).toEqual(['now:null']);
  });
});
