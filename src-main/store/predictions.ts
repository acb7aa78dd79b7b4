import type { Confusion, ImageDetail } from '../../src-shared/contract.ts';
import type { Db } from './open.ts';

export interface NewPrediction {
  imageId: number;
  predictedIndex: number;
  confidence: number;
  logits: Float32Array | null;
  probabilities: Float32Array;
}

export class PredictionRepository {
  constructor(private readonly db: Db) {}

  /** Writes one batch of predictions in one transaction; a re-run replaces the older rows. */
  upsertBatch(modelId: number, classes: readonly string[], rows: readonly NewPrediction[]): void {
    const statement = this.db.prepare(
      `INSERT OR REPLACE INTO predictions
         (model_id, image_id, predicted_index, predicted_class, confidence, logits, probabilities)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    this.db.transaction(() => {
      for (const row of rows) {
        statement.run(
          modelId,
          row.imageId,
          row.predictedIndex,
          classes[row.predictedIndex] ?? String(row.predictedIndex),
          row.confidence,
          row.logits && toBlob(row.logits),
          toBlob(row.probabilities),
        );
      }
    })();
  }

  forImage(
    modelId: number,
    imageId: number,
    classes: readonly string[],
  ): NonNullable<ImageDetail['prediction']> | null {
    const row = this.db
      .prepare(
        'SELECT predicted_class AS predictedClass, confidence, probabilities FROM predictions WHERE model_id = ? AND image_id = ?',
      )
      .get(modelId, imageId) as { predictedClass: string; confidence: number; probabilities: Buffer } | undefined;
    if (!row) return null;
    const probabilities = fromBlob(row.probabilities);
    return {
      modelId,
      predictedClass: row.predictedClass,
      confidence: row.confidence,
      probabilities: Array.from(probabilities, (probability, index) => ({
        className: classes[index] ?? String(index),
        probability,
      })),
    };
  }

  /** Confusion matrix over the dataset's labelled images that have a prediction of this model. */
  confusion(
    modelId: number,
    datasetId: number,
    modelClasses: readonly string[],
    datasetClasses: readonly string[],
  ): Confusion {
    const classes = [...datasetClasses];
    for (const name of modelClasses) if (!classes.includes(name)) classes.push(name);
    const index = new Map(classes.map((name, i) => [name, i]));
    const matrix = classes.map(() => classes.map(() => 0));
    const rows = this.db
      .prepare(
        `SELECT i.class_name AS actual, p.predicted_class AS predicted, count(*) AS n
         FROM predictions p JOIN images i ON i.id = p.image_id
         WHERE p.model_id = ? AND i.dataset_id = ? AND i.class_name IS NOT NULL
         GROUP BY i.class_name, p.predicted_class`,
      )
      .all(modelId, datasetId) as Array<{ actual: string; predicted: string; n: number }>;
    let total = 0;
    let correct = 0;
    for (const row of rows) {
      matrix[index.get(row.actual)!]![index.get(row.predicted)!]! += row.n;
      total += row.n;
      if (row.actual === row.predicted) correct += row.n;
    }
    return { classes, matrix, total, correct, accuracy: total > 0 ? correct / total : null };
  }

  count(modelId: number, datasetId: number): number {
    return (
      this.db
        .prepare(
          'SELECT count(*) AS n FROM predictions p JOIN images i ON i.id = p.image_id WHERE p.model_id = ? AND i.dataset_id = ?',
        )
        .get(modelId, datasetId) as { n: number }
    ).n;
  }
}

function toBlob(values: Float32Array): Buffer {
  return Buffer.from(values.buffer, values.byteOffset, values.byteLength);
}

function fromBlob(blob: Buffer): Float32Array {
  const copy = new Uint8Array(blob.byteLength);
  copy.set(blob);
  return new Float32Array(copy.buffer);
}
