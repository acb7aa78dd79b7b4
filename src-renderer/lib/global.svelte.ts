/**
 * Global explanations in the renderer: the aggregate of the chosen sessions, the chosen class, scope,
 * concept and tab, example images fetched on demand, concept edits, exports and the report.
 */
import type { Aggregate, AggregateTable, ConceptEdit, LabelNextItem } from '../../src-shared/schemas/aggregate.ts';
import type { SessionSummary } from '../../src-shared/schemas/labels.ts';
import { api } from './api.ts';

export const GLOBAL_TABS = ['atlas', 'methods', 'agreement', 'disagreement', 'concepts'] as const;
export type GlobalTab = (typeof GLOBAL_TABS)[number];

export class GlobalView {
  result = $state.raw<Aggregate | null>(null);
  sessions = $state.raw<SessionSummary[]>([]);
  chosenSessions = $state<number[]>([]);
  tab = $state<GlobalTab>('atlas');
  classIndex = $state<number | null>(null);
  concept = $state<string | null>(null);
  scope = $state(0);
  scale = $state<'justifies' | 'predictable'>('justifies');
  weighted = $state(true);
  loading = $state(false);
  error = $state<string | null>(null);
  examples = $state.raw<Record<string, string | null>>({});
  labelNext = $state.raw<LabelNextItem[]>([]);
  labelNextSession = $state<number | null>(null);

  atlas = $derived(this.result?.atlas.find((a) => a.classIndex === this.classIndex) ?? this.result?.atlas[0] ?? null);
  conceptScore = $derived(this.atlas?.concepts.find((c) => c.concept === this.concept) ?? null);

  async load(): Promise<void> {
    this.loading = true;
    this.error = null;
    try {
      this.sessions = await api.call('labels.sessions');
      const sessionIds = this.chosenSessions.length ? [...this.chosenSessions] : undefined;
      this.result = await api.call('aggregate.run', { sessionIds });
      if (this.classIndex === null || !this.result.atlas.some((a) => a.classIndex === this.classIndex)) this.classIndex = this.result.atlas[0]?.classIndex ?? null;
      if (this.scope >= this.result.methods.length) this.scope = 0;
      if (this.concept && !this.atlas?.concepts.some((c) => c.concept === this.concept)) this.concept = null;
    } catch (error) {
      this.result = null;
      this.error = (error as Error).message;
    } finally {
      this.loading = false;
    }
  }

  async showExamples(itemUuids: string[]): Promise<void> {
    const missing = itemUuids.filter((id) => !(id in this.examples));
    if (missing.length === 0) return;
    const images = await api.call('aggregate.examples', { itemUuids: missing });
    this.examples = { ...this.examples, ...Object.fromEntries(images.map((i) => [i.itemUuid, i.src])) };
  }

  selectConcept(concept: string | null): void {
    this.concept = this.concept === concept ? null : concept;
    const chosen = this.atlas?.concepts.find((c) => c.concept === this.concept);
    if (chosen) void this.showExamples(chosen.examples.map((e) => e.itemUuid));
  }

  async edit(edit: ConceptEdit): Promise<void> {
    await this.guard(async () => {
      await api.call('aggregate.edit', edit);
      await this.load();
    });
  }

  async undoEdits(): Promise<void> {
    await this.guard(async () => {
      await api.call('aggregate.undoEdit', {});
      await this.load();
    });
  }

  async faithfulness(): Promise<string | null> {
    let jobId: string | null = null;
    await this.guard(async () => {
      jobId = (await api.call('aggregate.faithfulness', { sessionIds: this.chosenSessions.length ? [...this.chosenSessions] : undefined })).jobId;
    });
    return jobId;
  }

  async loadLabelNext(sessionId: number): Promise<void> {
    this.labelNextSession = sessionId;
    await this.guard(async () => {
      this.labelNext = await api.call('aggregate.labelNext', { sessionId });
    });
  }

  async exportTable(table: AggregateTable, format: 'csv' | 'json'): Promise<void> {
    await this.guard(async () => {
      const { filename, text } = await api.call('aggregate.export', { table, format, sessionIds: this.chosenSessions.length ? [...this.chosenSessions] : undefined });
      save(filename, text, format === 'csv' ? 'text/csv' : 'application/json');
    });
  }

  async report(): Promise<void> {
    await this.guard(async () => {
      const { filename, html } = await api.call('aggregate.report', { sessionIds: this.chosenSessions.length ? [...this.chosenSessions] : undefined });
      save(filename, html, 'text/html');
    });
  }

  async guard(work: () => Promise<void>): Promise<void> {
    this.error = null;
    try {
      await work();
    } catch (error) {
      this.error = (error as Error).message;
    }
  }
}

function save(filename: string, text: string, type: string): void {
  const link = document.createElement('a');
  link.href = URL.createObjectURL(new Blob([text], { type }));
  link.download = filename;
  link.click();
  URL.revokeObjectURL(link.href);
}

export const globalView = new GlobalView();
