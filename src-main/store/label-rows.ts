/** The rows of the labelling tables as the repositories return them (labels.ts, answers.ts). */
import type { TaskType } from '../../src-shared/schemas/labels.ts';

export interface SessionRow {
  id: number;
  uuid: string;
  name: string;
  config: string;
  state: 'open' | 'paused' | 'ended';
  createdAt: string;
}

export interface SeatRow {
  id: number;
  uuid: string;
  sessionId: number;
  index: number;
  annotatorId: number | null;
  state: 'active' | 'removed';
  tutorialDone: number;
  leaderboard: number;
}

export interface ItemRow {
  id: number;
  uuid: string;
  sessionId: number;
  taskType: TaskType;
  imageId: number;
  explanations: string;
  gold: string | null;
}

export interface TaskRow {
  id: number;
  uuid: string;
  seatId: number;
  itemId: number;
  position: number;
  revealed: number;
}

export interface AnswerRow {
  taskId: number;
  annotatorId: number;
  answer: string;
  correct: number | null;
  score: number | null;
  points: number;
  revision: number;
  origin: string;
  shownAt: string | null;
  answeredAt: string;
  revisedAt: string | null;
}

export interface StoredMap {
  width: number;
  height: number;
  map: Float32Array;
}

export interface ImageRow {
  imageId: number;
  opaque: string;
  mime: string;
  width: number;
  height: number;
  trueClass: string | null;
  predictedClass: string | null;
  confidence: number | null;
}

export interface SessionAnswer {
  taskId: number;
  taskUuid: string;
  itemUuid: string;
  itemId: number;
  taskType: TaskType;
  imageId: number;
  explanations: string;
  gold: string | null;
  annotatorUuid: string;
  annotatorName: string;
  annotatorRole: string;
  seatUuid: string;
  answer: string;
  correct: number | null;
  score: number | null;
  points: number;
  revision: number;
  origin: string;
  shownAt: string | null;
  answeredAt: string;
  revisedAt: string | null;
  trueClass: string | null;
  predictedClass: string | null;
}
