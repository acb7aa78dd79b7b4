/**
 * Global explanations in the renderer: the aggregate of the chosen sessions, the chosen class, scope,
 * concept and tab, example images fetched on demand, concept edits, exports and the report. Views
 * read it and change it through its methods only.
 */
import type { XaiApi } from '../../src-shared/contract.ts';
import type { Aggregate, AggregateTable, ConceptEdit, LabelNextItem } from '../../src-shared/schemas/aggregate.ts';
import type { SessionSummary } from '../../src-shared/schemas/labels.ts';
import { api as defaultApi } from './api.ts';
import { Loaded } from './loaded.svelte.ts';

export const GLOBAL_TABS = ['atlas', 'methods', 'agreement', 'disagreement', 'concepts'] as const;
export type GlobalTab = (typeof GLOBAL_TABS)[number];
export type RatingScale = 'justifies' | 'predictable';

export class GlobalView {
  readonly #aggregate = new Loaded<Aggregate>();
  #sessions = $state.raw<SessionSummary[]>([]);
  #chosenSessions = $state.raw<number[]>([]);
  #tab = $state<GlobalTab>('atlas');
  #classIndex = $state<number | null>(null);
  #concept = $state<string | null>(null);
  #scope = $state(0);
  #scale = $state<RatingScale>('justifies');
  #weighted = $state(true);
  #actionError = $state<string | null>(null);
  #examples = $state.raw<Record<string, string | null>>({});
  #labelNext = $state.raw<LabelNextItem[]>([]);

  constructor(private readonly api: XaiApi = defaultApi) {}

  get result(): Aggregate | null {
    return this.#aggregate.value;
  }
  get loading(): boolean {
    return this.#aggregate.loading;
  }
  get error(): string | null {
    return this.#actionError ?? this.#aggregate.error;
  }
  get sessions(): SessionSummary[] {
    return this.#sessions;
  }
  get chosenSessions(): number[] {
    return this.#chosenSessions;
  }
  get tab(): GlobalTab {
    return this.#tab;
  }
  get classIndex(): number | null {
    return this.#classIndex;
  }
  get concept(): string | null {
    return this.#concept;
  }
  get scope(): number {
    return this.#scope;
  }
  get scale(): RatingScale {
    return this.#scale;
  }
  get weighted(): boolean {
    return this.#weighted;
  }
  get examples(): Record<string, string | null> {
    return this.#examples;
  }
  get labelNext(): LabelNextItem[] {
    return this.#labelNext;
  }

  atlas = $derived(this.result?.atlas.find((a) => a.classIndex === this.#classIndex) ?? this.result?.atlas[0] ?? null);
  conceptScore = $derived(this.atlas?.concepts.find((c) => c.concept === this.#concept) ?? null);
  ranking = $derived(this.result?.methods[this.#scope] ?? null);

  private get sessionIds(): number[] | undefined {
    return this.#chosenSessions.length ? [...this.#chosenSessions] : undefined;
  }

  /** Aggregates the chosen sessions (all when none is chosen) again, keeping the class, scope and concept where they still exist. */
  async load(): Promise<void> {
    this.#actionError = null;
    await this.#aggregate.run(
      async () => {
        this.#sessions = await this.api.call('labels.sessions');
        return this.api.call('aggregate.run', { sessionIds: this.sessionIds });
      },
      {
        keep: true,
        onValue: (result) => {
          if (this.#classIndex === null || !result.atlas.some((a) => a.classIndex === this.#classIndex))
            this.#classIndex = result.atlas[0]?.classIndex ?? null;
          if (this.#scope >= result.methods.length) this.#scope = 0;
          const atlas = result.atlas.find((a) => a.classIndex === this.#classIndex);
          if (this.#concept && !atlas?.concepts.some((c) => c.concept === this.#concept)) this.#concept = null;
        },
      },
    );
  }

  showTab(tab: GlobalTab): void {
    this.#tab = tab;
  }

  /** A class of the atlas, with no concept chosen. */
  chooseClass(classIndex: number): void {
    this.#classIndex = classIndex;
    this.#concept = null;
  }

  /** A class by name (a row of the agreement heatmap): its concepts in the atlas. */
  openClass(className: string): void {
    const atlas = this.result?.atlas.find((a) => a.className === className);
    if (!atlas) return;
    this.chooseClass(atlas.classIndex);
    this.#tab = 'atlas';
  }

  /** Adds or removes a session from the aggregate, and aggregates again. */
  async chooseSession(sessionId: number, chosen: boolean): Promise<void> {
    this.#chosenSessions = chosen
      ? [...new Set([...this.#chosenSessions, sessionId])]
      : this.#chosenSessions.filter((id) => id !== sessionId);
    await this.load();
  }

  setRanking({ scope, scale, weighted }: { scope?: number; scale?: RatingScale; weighted?: boolean }): void {
    if (scope !== undefined) this.#scope = scope;
    if (scale !== undefined) this.#scale = scale;
    if (weighted !== undefined) this.#weighted = weighted;
  }

  async showExamples(itemUuids: string[]): Promise<void> {
    const missing = itemUuids.filter((id) => !(id in this.#examples));
    if (missing.length === 0) return;
    const images = await this.api.call('aggregate.examples', { itemUuids: missing });
    this.#examples = { ...this.#examples, ...Object.fromEntries(images.map((i) => [i.itemUuid, i.src])) };
  }

  /** Chooses a concept (choosing it again clears it) and fetches its example images. */
  selectConcept(concept: string | null): void {
    this.#concept = this.#concept === concept ? null : concept;
    const chosen = this.atlas?.concepts.find((c) => c.concept === this.#concept);
    if (chosen) void this.showExamples(chosen.examples.map((e) => e.itemUuid));
  }

  async edit(edit: ConceptEdit): Promise<void> {
    await this.guard(async () => {
      await this.api.call('aggregate.edit', edit);
      await this.load();
    });
  }

  async undoEdits(): Promise<void> {
    await this.guard(async () => {
      await this.api.call('aggregate.undoEdit', {});
      await this.load();
    });
  }

  async faithfulness(): Promise<string | null> {
    let jobId: string | null = null;
    await this.guard(async () => {
      jobId = (await this.api.call('aggregate.faithfulness', { sessionIds: this.sessionIds })).jobId;
    });
    return jobId;
  }

  async loadLabelNext(sessionId: number): Promise<void> {
    await this.guard(async () => {
      this.#labelNext = await this.api.call('aggregate.labelNext', { sessionId });
    });
  }

  async exportTable(table: AggregateTable, format: 'csv' | 'json'): Promise<void> {
    await this.guard(async () => {
      const { filename, text } = await this.api.call('aggregate.export', {
        table,
        format,
        sessionIds: this.sessionIds,
      });
      save(filename, text, format === 'csv' ? 'text/csv' : 'application/json');
    });
  }

  /** The HTML report as a download (the browser), or to a file (the desktop app, `path` from its save dialog). */
  async report(path?: string): Promise<void> {
    await this.guard(async () => {
      const { filename, html } = await this.api.call('aggregate.report', { sessionIds: this.sessionIds, html: path });
      if (!path) save(filename, html, 'text/html');
    });
  }

  /** The report printed to a PDF file (the desktop app prints it with its own Chromium). */
  async reportPdf(path: string): Promise<void> {
    await this.guard(
      async () => void (await this.api.call('aggregate.report', { sessionIds: this.sessionIds, pdf: path })),
    );
  }

  private async guard(work: () => Promise<void>): Promise<void> {
    this.#actionError = null;
    try {
      await work();
    } catch (error) {
      this.#actionError = (error as Error).message;
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
