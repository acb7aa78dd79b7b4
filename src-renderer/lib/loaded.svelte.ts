/**
 * One API result that a view loads and reloads as its inputs change: the value, the error message
 * and whether a call is under way. A newer call wins; an older answer that arrives late is dropped.
 * A failed call leaves no value: a view never shows an old result under a new error.
 */
export class Loaded<T> {
  value = $state.raw<T | null>(null);
  error = $state<string | null>(null);
  /** The server's error code of the failed call (`bundle_not_found`, ...), or null. */
  code = $state<string | null>(null);
  loading = $state(false);
  private generation = 0;

  /** Forgets the value and any call under way (its answer will be dropped). */
  reset(): void {
    this.generation++;
    this.value = null;
    this.error = null;
    this.code = null;
    this.loading = false;
  }

  /** `onValue` runs in the same turn as the value lands, before anything can react to it. */
  async run(
    call: () => Promise<T>,
    { keep = false, onValue }: { keep?: boolean; onValue?: (value: T) => void } = {},
  ): Promise<void> {
    const generation = ++this.generation;
    this.loading = true;
    this.error = null;
    this.code = null;
    if (!keep) this.value = null;
    try {
      const value = await call();
      if (generation === this.generation) {
        onValue?.(value);
        this.value = value;
      }
    } catch (error) {
      if (generation === this.generation) {
        this.error = (error as Error).message;
        this.code = (error as { code?: string }).code ?? null;
        this.value = null;
      }
    } finally {
      if (generation === this.generation) this.loading = false;
    }
  }
}
