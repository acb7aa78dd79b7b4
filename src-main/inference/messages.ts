import type { Manifest } from '../../src-shared/contract.ts';
import type { ApiErrorShape } from '../../src-shared/errors.ts';

export interface TensorInfo {
  name: string;
  shape: number[];
  type: string;
}

export type WorkerRequest =
  | { type: 'inspect'; id: number; key: string; path: string }
  | { type: 'infer-images'; id: number; key: string; path: string; manifest: Manifest; projectPath: string; imageIds: number[] }
  | { type: 'infer-tensor'; id: number; key: string; path: string; manifest: Manifest; tensor: Float32Array; count: number };

export type WorkerReply =
  | { type: 'inspected'; id: number; provider: string; inputs: TensorInfo[]; outputs: TensorInfo[] }
  | { type: 'inferred'; id: number; output: Float32Array; dims: number[]; provider: string }
  | { type: 'failed'; id: number; error: ApiErrorShape };
