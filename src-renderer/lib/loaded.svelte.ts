/**
 * One API result that a view loads and reloads as its inputs change: the value, the error message
 * and whether a call is under way. A newer call wins; an older answer that arrives late is dropped.
 */
export class Loaded<T> {
  value = $state.raw<T | null>(null);
  error = $state<string | null>(null);
  loading = $state(false);
  private generation = 0;

  /** `onValue` runs in the same turn as the value lands, before anything can react to it. */
  async run(call: () => Promise<T>, { keep = false, onValue }: { keep?: boolean; onValue?: (value: T) => void } = {}): Promise<void> {
    const generation = ++this.generation;
    this.loading = true;
    this.error = null;
    if (!keep) this.value = null;
    try {
      const value = await call();
      if (generation === this.generation) {
        onValue?.(value);
        this.value = value;
      }
    } catch (error) {
      if (generation === this.generation) this.error = (error as Error).message;
    } finally {
      if (generation === this.generation) this.loading = false;
    }
  }
}
