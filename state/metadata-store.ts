/**
 * The JobManager's SQLite store: which checkpoints and savepoints completed, where they are, and
 * which were discarded (Flink's CompletedCheckpointStore, with the history of the REST API). The
 * `_metadata` file in the checkpoint storage is the truth a restore reads; this store is the
 * JobManager's record of it, written before the checkpoint is announced complete.
 *
 * Invariants:
 *  1. A checkpoint is recorded before notify-checkpoint-complete is sent (the JobMaster awaits it).
 *  2. Recording is idempotent per (job, checkpoint id, kind); discarding only marks the row.
 */
import sqlite3 from 'sqlite3';
import { TroupeError } from '../core/errors.js';

export interface CheckpointRecord {
  readonly jobId: string;
  readonly checkpointId: number;
  readonly kind: 'checkpoint' | 'savepoint';
  /** Absolute directory of the checkpoint or savepoint. */
  readonly path: string;
  readonly timestamp: number;
  readonly completedAt: number;
  /** Bytes of the state files it references. */
  readonly bytes: number;
  readonly files: number;
  readonly discarded: boolean;
}

export class JobManagerStore {
  private constructor(
    private readonly db: sqlite3.Database,
    readonly file: string,
  ) {}

  static async open(file: string): Promise<JobManagerStore> {
    const db = await new Promise<sqlite3.Database>((resolve, reject) => {
      const d = new sqlite3.Database(file, (error) => (error === null ? resolve(d) : reject(error)));
    }).catch((error: unknown) => {
      throw new TroupeError('TROUPE_INVALID_ARGUMENT', `cannot open the JobManager store ${file}: ${(error as Error).message}`, { details: { file } });
    });
    const store = new JobManagerStore(db, file);
    await store.run('PRAGMA busy_timeout = 5000');
    await store.run('PRAGMA journal_mode = WAL');
    await store.run(`CREATE TABLE IF NOT EXISTS checkpoints (
      job_id TEXT NOT NULL, checkpoint_id INTEGER NOT NULL, kind TEXT NOT NULL, path TEXT NOT NULL,
      timestamp INTEGER NOT NULL, completed_at INTEGER NOT NULL, bytes INTEGER NOT NULL, files INTEGER NOT NULL,
      discarded INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (job_id, checkpoint_id, kind))`);
    return store;
  }

  async record(r: Omit<CheckpointRecord, 'discarded'>): Promise<void> {
    await this.run(
      `INSERT INTO checkpoints (job_id, checkpoint_id, kind, path, timestamp, completed_at, bytes, files) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (job_id, checkpoint_id, kind) DO NOTHING`,
      [r.jobId, r.checkpointId, r.kind, r.path, r.timestamp, r.completedAt, r.bytes, r.files],
    );
  }

  async markDiscarded(jobId: string, checkpointId: number): Promise<void> {
    await this.run(`UPDATE checkpoints SET discarded = 1 WHERE job_id = ? AND checkpoint_id = ? AND kind = 'checkpoint'`, [jobId, checkpointId]);
  }

  /** Every record of a job, oldest first. */
  async list(jobId: string): Promise<CheckpointRecord[]> {
    const rows = await new Promise<Record<string, unknown>[]>((resolve, reject) =>
      this.db.all('SELECT * FROM checkpoints WHERE job_id = ? ORDER BY checkpoint_id, kind', [jobId], (error, r: Record<string, unknown>[]) => (error === null ? resolve(r) : reject(error))),
    );
    return rows.map((r) => ({
      jobId: r.job_id as string,
      checkpointId: r.checkpoint_id as number,
      kind: r.kind as 'checkpoint' | 'savepoint',
      path: r.path as string,
      timestamp: r.timestamp as number,
      completedAt: r.completed_at as number,
      bytes: r.bytes as number,
      files: r.files as number,
      discarded: r.discarded === 1,
    }));
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.db.close(() => resolve()));
  }

  private run(sql: string, params: unknown[] = []): Promise<void> {
    return new Promise((resolve, reject) => this.db.run(sql, params, (error) => (error === null ? resolve() : reject(error))));
  }
}
