/**
 * The Global panel's state (GlobalView) against a fake API: what load chooses, that views change it
 * only through its methods, that the newest aggregate wins, and that a failed one leaves no stale result.
 */
import { describe, expect, it, vi } from 'vitest';
vi.mock('../../src-renderer/lib/api.ts', () => ({ api: {} }));
import { GlobalView } from '../../src-renderer/lib/global.svelte.ts';
import type { Aggregate } from '../../src-shared/schemas/aggregate.ts';
import { deferred, FakeApi } from '../support/fake-api.ts';

const concept = (name: string) => ({
  concept: name,
  name,
  score: 1,
  share: 0.5,
  labels: 2,
  people: 2,
  images: 2,
  examples: [{ itemUuid: `item-${name}`, imageId: 7, method: 'gradcam', text: name }],
});
const aggregate = (classes: string[]) =>
  ({
    atlas: classes.map((className, classIndex) => ({
      classIndex,
      className,
      answers: 3,
      concepts: [concept('collar'), concept('sole')],
      layers: [],
      trends: [],
    })),
    methods: [{ scope: 'all classes', rows: [], correlations: [] }],
  }) as unknown as Aggregate;

function fake(result: () => unknown) {
  return new FakeApi()
    .answer('labels.sessions', () => [
      { id: 1, name: 'Pilot', answered: 10 },
      { id: 2, name: 'Lab', answered: 4 },
    ])
    .answer('aggregate.run', result)
    .answer('aggregate.examples', ({ itemUuids }) =>
      itemUuids.map((itemUuid: string) => ({ itemUuid, src: `data:${itemUuid}` })),
    );
}

describe('GlobalView', () => {
  it('loads the aggregate and picks the first class; choosing a class clears the concept', async () => {
    const api = fake(() => aggregate(['Shirt', 'Sneaker']));
    const view = new GlobalView(api);
    await view.load();
    expect(view.result?.atlas).toHaveLength(2);
    expect(view.atlas?.className).toBe('Shirt');
    view.selectConcept('collar');
    expect(view.conceptScore?.name).toBe('collar');
    await expect.poll(() => view.examples['item-collar']).toBe('data:item-collar');
    view.chooseClass(1);
    expect(view.atlas?.className).toBe('Sneaker');
    expect(view.concept).toBeNull();
    view.showTab('agreement');
    view.openClass('Shirt');
    expect([view.tab, view.atlas?.className]).toEqual(['atlas', 'Shirt']);
  });

  it('aggregates the chosen sessions only, and all of them when none is chosen', async () => {
    const api = fake(() => aggregate(['Shirt']));
    const view = new GlobalView(api);
    await view.load();
    await view.chooseSession(2, true);
    await view.chooseSession(1, true);
    await view.chooseSession(2, false);
    expect(api.callsOf('aggregate.run')).toEqual([
      { sessionIds: undefined },
      { sessionIds: [2] },
      { sessionIds: [2, 1] },
      { sessionIds: [1] },
    ]);
  });

  it('keeps the newest aggregate when an older one answers late', async () => {
    const slow = deferred<Aggregate>();
    let calls = 0;
    const api = fake(() => (++calls === 1 ? slow.promise : aggregate(['Sneaker'])));
    const view = new GlobalView(api);
    const first = view.load();
    await view.load();
    slow.resolve(aggregate(['Shirt']));
    await first;
    expect(view.atlas?.className).toBe('Sneaker');
  });

  it('shows no stale result under an error', async () => {
    let fail = false;
    const api = fake(() => {
      if (fail) throw new Error('No labels yet: answer some tasks first');
      return aggregate(['Shirt']);
    });
    const view = new GlobalView(api);
    await view.load();
    fail = true;
    await view.load();
    expect(view.result).toBeNull();
    expect(view.error).toBe('No labels yet: answer some tasks first');
  });

  it('sets the ranking view through its method and keeps a scope that exists', async () => {
    const view = new GlobalView(fake(() => aggregate(['Shirt'])));
    view.setRanking({ scope: 3, scale: 'predictable', weighted: false });
    await view.load();
    expect([view.scope, view.scale, view.weighted]).toEqual([0, 'predictable', false]);
  });
});
