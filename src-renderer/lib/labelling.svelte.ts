/**
 * Labelling in the renderer: one task source interface with two implementations (the local app over
 * the workstation API, a crowd participant over the session host), and the Labeller state that both
 * the analyst's panel and the participant page drive. Policy: the next task is shown only from the
 * answer's acknowledgement (the answer is on disk by then); performance marks `label:key`,
 * `label:ack` and `label:shown` time each answer (bench/label-latency.ts reads them).
 * This module must not import lib/api.ts: the participant page has no workstation API.
 */
import type { AnswerAck, AnswerInput, HistoryEntry, NextTask, TaskView } from '../../src-shared/schemas/labels.ts';
import { callHost } from './participant-client.ts';

export interface RevealStep {
  src: string;
  step: number;
  percent: number;
}

export interface TaskSource {
  next(): Promise<NextTask>;
  answer(taskId: string, answer: AnswerInput, shownAt: string | null): Promise<AnswerAck>;
  task(taskId: string): Promise<TaskView>;
  history(): Promise<HistoryEntry[]>;
  reveal(taskId: string, step: number): Promise<RevealStep>;
  leaderboard(): Promise<{ name: string; points: number; level: number; you: boolean }[]>;
}

/** A participant's source: the session host's participant API with the resume token. */
export function crowdSource(token: string): TaskSource {
  return {
    next: () => callHost('next', {}, token),
    answer: (taskId, answer, shownAt) => callHost('answer', { taskId, answer, shownAt }, token),
    task: (taskId) => callHost('task', { taskId }, token),
    history: () => callHost('history', {}, token),
    reveal: (taskId, step) => callHost('reveal', { taskId, step }, token),
    leaderboard: () => callHost('leaderboard', {}, token),
  };
}

export class Labeller {
  state = $state.raw<NextTask | null>(null);
  /** The task on screen: the next one, or an earlier one reopened from the history. */
  task = $state.raw<TaskView | null>(null);
  history = $state.raw<HistoryEntry[]>([]);
  reveal = $state.raw<RevealStep | null>(null);
  busy = $state(false);
  error = $state<string | null>(null);
  /** Feedback on the last practice answer. */
  feedback = $state<{ correct: boolean; hint: string } | null>(null);
  reopened = $derived(this.task !== null && this.state?.task?.taskId !== this.task.taskId);
  private shownAt: string | null = null;

  constructor(readonly source: TaskSource) {}

  async load(): Promise<void> {
    await this.run(async () => {
      this.show(await this.source.next());
      this.history = await this.source.history();
    });
  }

  async submit(answer: AnswerInput): Promise<void> {
    const task = this.task;
    if (!task || this.busy) return;
    performance.mark('label:key');
    await this.run(async () => {
      const ack = await this.source.answer(task.taskId, answer, this.shownAt);
      performance.mark('label:ack');
      this.feedback = ack.practiceCorrect === null ? null : { correct: ack.practiceCorrect, hint: task.hint ?? '' };
      this.show(ack.next);
      requestAnimationFrame(() => performance.mark('label:shown'));
      if (!task.practice) void this.source.history().then((history) => (this.history = history));
    });
  }

  /** Reopens the last answer (the undo key) or any answer of the history. */
  async reopen(taskId?: string): Promise<void> {
    const id = taskId ?? this.history[0]?.taskId;
    if (!id) return;
    await this.run(async () => {
      this.task = await this.source.task(id);
      this.reveal = null;
      this.shownAt = new Date().toISOString();
    });
  }

  /** Back from a reopened task to the next open one. */
  resume(): void {
    this.task = this.state?.task ?? null;
    this.reveal = null;
  }

  async revealNext(): Promise<void> {
    const task = this.task;
    if (!task || task.type !== 'reveal' || this.busy) return;
    const step = Math.min((this.reveal?.step ?? task.revealed) + 1, 5);
    if (this.reveal && step === this.reveal.step) return;
    await this.run(async () => {
      this.reveal = await this.source.reveal(task.taskId, step);
    });
  }

  private show(next: NextTask): void {
    this.state = next;
    this.task = next.task;
    this.reveal = null;
    this.shownAt = new Date().toISOString();
    if (next.task?.type === 'reveal' && next.task.revealed >= 0)
      void this.source.reveal(next.task.taskId, next.task.revealed).then((r) => (this.reveal = r));
  }

  private async run(work: () => Promise<void>): Promise<void> {
    this.busy = true;
    this.error = null;
    try {
      await work();
    } catch (error) {
      this.error = (error as Error).message;
    } finally {
      this.busy = false;
    }
  }
}
