/**
 * The session owner's state: annotators, sessions, the selected session's live detail (refreshed on
 * `labels.changed` events), and the local annotator labelling in the app.
 */
import type { Annotator, SessionDetail, SessionSummary } from '../../src-shared/schemas/labels.ts';
import { api } from './api.ts';
import { Labeller, type TaskSource } from './labelling.svelte.ts';

export function localSource(sessionId: number, annotatorId: number): TaskSource {
  return {
    next: () => api.call('labels.next', { sessionId, annotatorId }),
    answer: (taskId, answer, shownAt) => api.call('labels.answer', { sessionId, annotatorId, taskId, answer, shownAt }),
    task: (taskId) => api.call('labels.task', { sessionId, annotatorId, taskId }),
    history: () => api.call('labels.history', { sessionId, annotatorId }),
    reveal: (taskId, step) => api.call('labels.reveal', { sessionId, annotatorId, taskId, step }),
    leaderboard: () => api.call('labels.leaderboard', { sessionId, annotatorId }),
  };
}

export class Sessions {
  #annotators = $state.raw<Annotator[]>([]);
  #list = $state.raw<SessionSummary[]>([]);
  #selectedId = $state<number | null>(null);
  #detail = $state.raw<SessionDetail | null>(null);
  #creating = $state(false);
  #labeller = $state.raw<Labeller | null>(null);
  #error = $state<string | null>(null);
  private refreshTimer: ReturnType<typeof setTimeout> | null = null;
  private unsubscribe: (() => void) | null = null;

  get annotators() {
    return this.#annotators;
  }

  get list() {
    return this.#list;
  }

  get selectedId() {
    return this.#selectedId;
  }

  get detail() {
    return this.#detail;
  }

  get creating() {
    return this.#creating;
  }

  get labeller() {
    return this.#labeller;
  }

  get error() {
    return this.#error;
  }

  /** The form for a new session (leaves any labelling in the app). */
  startCreating(): void {
    this.#creating = true;
    this.#labeller = null;
  }

  /** A session was created: it is the selected one, and the form closes. */
  created(sessionId: number): void {
    this.#selectedId = sessionId;
    this.#creating = false;
  }

  /** Back from labelling to the session's detail. */
  async stopLabelling(): Promise<void> {
    this.#labeller = null;
    await this.refresh();
  }

  fail(message: string): void {
    this.#error = message;
  }

  async open(): Promise<void> {
    this.unsubscribe ??= api.on('labels.changed', ({ sessionId }) => this.changed(sessionId));
    await this.refresh();
  }

  close(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.#labeller = null;
    this.#creating = false;
  }

  async refresh(): Promise<void> {
    await this.guard(async () => {
      [this.#annotators, this.#list] = await Promise.all([
        api.call('annotators.list', {}),
        api.call('labels.sessions', {}),
      ]);
      if (this.selectedId === null && this.list[0]) this.#selectedId = this.list[0].id;
      this.#detail = this.selectedId === null ? null : await api.call('labels.session', { sessionId: this.selectedId });
    });
  }

  async select(sessionId: number): Promise<void> {
    this.#selectedId = sessionId;
    this.#labeller = null;
    this.#creating = false;
    await this.refresh();
  }

  /** Live progress without a storm of calls: one refresh per half second at most. */
  private changed(sessionId: number): void {
    if (this.refreshTimer) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      if (sessionId === this.selectedId || !this.list.some((s) => s.id === sessionId)) void this.refresh();
    }, 500);
  }

  labelAs(annotatorId: number): void {
    if (this.selectedId === null) return;
    const labeller = new Labeller(localSource(this.selectedId, annotatorId));
    this.#labeller = labeller;
    void labeller.load();
  }

  async guard(work: () => Promise<void>): Promise<boolean> {
    this.#error = null;
    try {
      await work();
      return true;
    } catch (error) {
      this.#error = (error as Error).message;
      return false;
    }
  }
}

export const sessions = new Sessions();
