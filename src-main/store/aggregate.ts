/** Concept-cluster edits and cached faithfulness metrics (see migration 0006). */
import { ConceptEdit } from '../../src-shared/schemas/aggregate.ts';
import type { Db } from './open.ts';

export interface StoredEdit {
  id: number;
  edit: ConceptEdit;
  createdAt: string;
}

export interface FaithfulnessKey {
  modelHash: string;
  imageId: number;
  method: string;
  layer: string;
  targetClass: number;
}

export interface FaithfulnessRow extends FaithfulnessKey {
  steps: number;
  deletion: number;
  insertion: number;
  road: number;
  sanity: number | null;
}

export class AggregateRepository {
  constructor(private readonly db: Db) {}

  edits(): StoredEdit[] {
    const rows = this.db.prepare('SELECT id, edit, created_at AS createdAt FROM concept_edits ORDER BY id').all() as {
      id: number;
      edit: string;
      createdAt: string;
    }[];
    return rows.map((r) => ({ id: r.id, edit: ConceptEdit.parse(JSON.parse(r.edit)), createdAt: r.createdAt }));
  }

  addEdit(edit: ConceptEdit): StoredEdit {
    const createdAt = new Date().toISOString();
    const { lastInsertRowid } = this.db
      .prepare('INSERT INTO concept_edits (edit, created_at) VALUES (?, ?)')
      .run(JSON.stringify(edit), createdAt);
    return { id: Number(lastInsertRowid), edit, createdAt };
  }

  /** Removes one edit (undo) or, without an id, all of them (back to the automatic clusters). */
  removeEdits(id?: number): number {
    return (
      id === undefined
        ? this.db.prepare('DELETE FROM concept_edits').run()
        : this.db.prepare('DELETE FROM concept_edits WHERE id = ?').run(id)
    ).changes;
  }

  faithfulness(key: FaithfulnessKey): FaithfulnessRow | undefined {
    return this.db
      .prepare(
        `SELECT model_hash AS modelHash, image_id AS imageId, method, layer, target_class AS targetClass, steps, deletion, insertion, road, sanity
         FROM faithfulness WHERE model_hash = ? AND image_id = ? AND method = ? AND layer = ? AND target_class = ?`,
      )
      .get(key.modelHash, key.imageId, key.method, key.layer, key.targetClass) as FaithfulnessRow | undefined;
  }

  putFaithfulness(rows: readonly FaithfulnessRow[]): void {
    const insert = this.db.prepare(
      `INSERT OR REPLACE INTO faithfulness (model_hash, image_id, method, layer, target_class, steps, deletion, insertion, road, sanity, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const now = new Date().toISOString();
    this.db.transaction(() => {
      for (const r of rows)
        insert.run(
          r.modelHash,
          r.imageId,
          r.method,
          r.layer,
          r.targetClass,
          r.steps,
          r.deletion,
          r.insertion,
          r.road,
          r.sanity,
          now,
        );
    })();
  }
}
