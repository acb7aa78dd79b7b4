/**
 * The WordPiece tokenizer of BERT-style sentence encoders (all-MiniLM-L6-v2, all-mpnet-base-v2), read
 * from the Hugging Face `tokenizer.json` that sits next to the exported ONNX model. It implements what
 * those two files use: the BERT normaliser (lower case, accents stripped), splitting on whitespace and
 * punctuation, greedy longest-match WordPiece with the "##" prefix, and the template that wraps a
 * sentence in its start and end tokens ([CLS] ... [SEP], or <s> ... </s> for MPNet).
 */
import { MiB, readBoundedSync } from '../../io/files.ts';
import { ApiError } from '../../../src-shared/errors.ts';

export interface Encoded {
  ids: number[];
}

interface TokenizerJson {
  model?: {
    type?: string;
    vocab?: Record<string, number>;
    unk_token?: string;
    continuing_subword_prefix?: string;
    max_input_chars_per_word?: number;
  };
  normalizer?: {
    type?: string;
    lowercase?: boolean;
    strip_accents?: boolean | null;
    normalizers?: { type?: string }[];
  } | null;
  post_processor?: {
    type?: string;
    cls?: [string, number];
    sep?: [string, number];
    single?: ({ SpecialToken?: { id: string } } | { Sequence?: unknown })[];
    special_tokens?: Record<string, { ids: number[] }>;
  } | null;
  truncation?: { max_length?: number } | null;
}

export class WordPiece {
  private readonly vocab: Map<string, number>;
  private readonly unk: number;
  private readonly prefix: string;
  private readonly maxChars: number;
  private readonly lowercase: boolean;
  private readonly start: number[];
  private readonly end: number[];
  readonly maxLength: number;

  constructor(json: TokenizerJson, label: string) {
    const model = json.model;
    if (!model || model.type !== 'WordPiece' || !model.vocab) {
      throw new ApiError(
        'model_invalid',
        `${label}: a WordPiece tokenizer is expected (all-MiniLM-L6-v2 or all-mpnet-base-v2); this one is ${JSON.stringify(model?.type ?? null)}`,
      );
    }
    this.vocab = new Map(Object.entries(model.vocab));
    const unk = this.vocab.get(model.unk_token ?? '[UNK]');
    if (unk === undefined)
      throw new ApiError(
        'model_invalid',
        `${label}: its unknown token ${JSON.stringify(model.unk_token ?? '[UNK]')} is not in the vocabulary`,
      );
    this.unk = unk;
    this.prefix = model.continuing_subword_prefix ?? '##';
    this.maxChars = model.max_input_chars_per_word ?? 100;
    const normalizers =
      json.normalizer?.type === 'Sequence'
        ? (json.normalizer.normalizers ?? [])
        : json.normalizer
          ? [json.normalizer]
          : [];
    this.lowercase =
      json.normalizer?.type === 'BertNormalizer'
        ? json.normalizer.lowercase !== false
        : normalizers.some((n) => n.type === 'Lowercase');
    const special = (token: string) => {
      const id = this.vocab.get(token);
      if (id === undefined)
        throw new ApiError(
          'model_invalid',
          `${label}: special token ${JSON.stringify(token)} is not in the vocabulary`,
        );
      return id;
    };
    const post = json.post_processor;
    if (post?.type === 'TemplateProcessing' && post.single) {
      const ids = (piece: (typeof post.single)[number]) =>
        'SpecialToken' in piece && piece.SpecialToken
          ? (post.special_tokens?.[piece.SpecialToken.id]?.ids ?? [special(piece.SpecialToken.id)])
          : [];
      const at = post.single.findIndex((piece) => 'Sequence' in piece);
      this.start = post.single.slice(0, at).flatMap(ids);
      this.end = post.single.slice(at + 1).flatMap(ids);
    } else if ((post?.type === 'RobertaProcessing' || post?.type === 'BertProcessing') && post.cls && post.sep) {
      this.start = [post.cls[1]];
      this.end = [post.sep[1]];
    } else {
      this.start = this.vocab.has('[CLS]') ? [special('[CLS]')] : [];
      this.end = this.vocab.has('[SEP]') ? [special('[SEP]')] : [];
    }
    this.maxLength = json.truncation?.max_length ?? 128;
  }

  static load(path: string): WordPiece {
    let json: TokenizerJson;
    try {
      json = JSON.parse(readBoundedSync(path, 64 * MiB).toString('utf8')) as TokenizerJson;
    } catch (error) {
      throw new ApiError('model_invalid', `${path} is not a readable tokenizer.json: ${(error as Error).message}`);
    }
    return new WordPiece(json, path);
  }

  /** Whitespace and punctuation split of the BERT pre-tokeniser, after the normaliser. */
  pretokenise(text: string): string[] {
    let t = text;
    if (this.lowercase)
      t = t
        .toLowerCase()
        .normalize('NFD')
        .replace(/[\u0300-\u036f]/g, '');
    return t.match(/[\p{L}\p{N}]+|[^\s\p{L}\p{N}]/gu) ?? [];
  }

  private pieces(word: string): number[] {
    if (word.length > this.maxChars) return [this.unk];
    const out: number[] = [];
    let start = 0;
    while (start < word.length) {
      let end = word.length;
      let found: number | undefined;
      while (start < end) {
        const piece = (start > 0 ? this.prefix : '') + word.slice(start, end);
        found = this.vocab.get(piece);
        if (found !== undefined) break;
        end--;
      }
      if (found === undefined) return [this.unk];
      out.push(found);
      start = end;
    }
    return out;
  }

  encode(text: string): Encoded {
    const body = this.pretokenise(text).flatMap((w) => this.pieces(w));
    const room = Math.max(0, this.maxLength - this.start.length - this.end.length);
    return { ids: [...this.start, ...body.slice(0, room), ...this.end] };
  }
}
