/**
 * The rows of the dataset browser, fetched in pages as the grid scrolls to them. A new query starts
 * a new generation; answers to an older generation are dropped, so fast filter changes never show
 * stale images.
 */
import { SvelteMap } from 'svelte/reactivity';
import type { ImageQuery, ImageRow } from '../../src-shared/contract.ts';
import { api } from './api.ts';

export const PAGE_SIZE = 600;

export class ImagePages {
  total = $state(0);
  loading = $state(false);
  error = $state<string | null>(null);
  // One signal per page: a page arriving re-renders only the cells that show it.
  private pages = new SvelteMap<number, ImageRow[]>();
  private inFlight = new Set<number>();
  private generation = 0;
  private query: Omit<ImageQuery, 'offset' | 'limit'> | null = null;

  async reset(query: Omit<ImageQuery, 'offset' | 'limit'> | null): Promise<void> {
    this.generation += 1;
    this.query = query;
    this.inFlight.clear();
    this.pages.clear();
    this.error = null;
    if (!query) {
      this.total = 0;
      return;
    }
    await this.load(0, this.generation);
  }

  row(index: number): ImageRow | undefined {
    return this.pages.get(Math.floor(index / PAGE_SIZE))?.[index % PAGE_SIZE];
  }

  /** Makes sure the rows from `first` to `last` are loaded or loading. */
  ensure(first: number, last: number): void {
    for (let page = Math.floor(first / PAGE_SIZE); page <= Math.floor(last / PAGE_SIZE); page++) {
      if (!this.pages.has(page) && !this.inFlight.has(page) && page * PAGE_SIZE < this.total)
        void this.load(page, this.generation);
    }
  }

  private async load(page: number, generation: number): Promise<void> {
    if (!this.query) return;
    this.inFlight.add(page);
    this.loading = true;
    try {
      const result = await api.call('images.list', { ...this.query, offset: page * PAGE_SIZE, limit: PAGE_SIZE });
      if (generation !== this.generation) return;
      this.total = result.total;
      this.pages.set(page, result.items);
    } catch (error) {
      if (generation === this.generation) this.error = (error as Error).message;
    } finally {
      this.inFlight.delete(page);
      if (generation === this.generation) this.loading = this.inFlight.size > 0;
    }
  }
}
