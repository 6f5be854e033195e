/**
 * The channel registry, in an embedded SQLite database (node:sqlite) inside the data directory.
 *
 * Every write is a committed transaction before the call returns, with `synchronous=FULL`, so anything the API
 * has acknowledged survives the process being killed right after.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import type { ChannelSpec } from '../channel/channel-spec.ts';

export interface ChannelRecord {
  channelId: string;
  /** Random id used in the playlist URL; unrelated to channelId. */
  playlistId: string;
  /** SHA-256 (hex) of the API token that created the channel. */
  owner: string;
  createdAt: string;
  deletedAt?: string;
  spec: ChannelSpec;
}

interface ChannelRow {
  channel_id: string;
  playlist_id: string;
  owner: string;
  created_at: string;
  deleted_at: string | null;
  spec: string;
}

const schemaVersion = 1;

interface Statements {
  insert: StatementSync;
  markDeleted: StatementSync;
  updateSpec: StatementSync;
  countActive: StatementSync;
  byId: StatementSync;
  byOwner: StatementSync;
}

function toRecord(row: ChannelRow): ChannelRecord {
  const record: ChannelRecord = {
    channelId: row.channel_id,
    playlistId: row.playlist_id,
    owner: row.owner,
    createdAt: row.created_at,
    spec: JSON.parse(row.spec) as ChannelSpec,
  };
  if (row.deleted_at !== null) record.deletedAt = row.deleted_at;
  return record;
}

export class ChannelStore {
  readonly #path: string;
  #db: DatabaseSync | undefined;
  #statements: Statements | undefined;

  constructor(dataDir: string) {
    this.#path = join(dataDir, 'nagare.sqlite');
  }

  get path(): string {
    return this.#path;
  }

  open(): void {
    mkdirSync(join(this.#path, '..'), { recursive: true });
    const db = new DatabaseSync(this.#path);
    db.exec('PRAGMA journal_mode = WAL');
    db.exec('PRAGMA synchronous = FULL');
    db.exec('PRAGMA busy_timeout = 5000');
    const version = (db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version;
    if (version > schemaVersion) {
      db.close();
      throw new Error(`${this.#path} was written by a newer Nagare (schema ${version} > ${schemaVersion})`);
    }
    db.exec(`
      CREATE TABLE IF NOT EXISTS channels (
        channel_id  TEXT PRIMARY KEY,
        playlist_id TEXT NOT NULL UNIQUE,
        owner       TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        deleted_at  TEXT,
        spec        TEXT NOT NULL
      ) STRICT;
      CREATE INDEX IF NOT EXISTS channels_by_owner ON channels (owner, created_at);
      PRAGMA user_version = ${schemaVersion};
    `);
    this.#db = db;
    this.#statements = {
      insert: db.prepare(
        'INSERT INTO channels (channel_id, playlist_id, owner, created_at, spec) VALUES (?, ?, ?, ?, ?)',
      ),
      markDeleted: db.prepare(
        'UPDATE channels SET deleted_at = ? WHERE channel_id = ? AND deleted_at IS NULL',
      ),
      updateSpec: db.prepare('UPDATE channels SET spec = ? WHERE channel_id = ? AND deleted_at IS NULL'),
      countActive: db.prepare('SELECT COUNT(*) AS count FROM channels WHERE deleted_at IS NULL'),
      byId: db.prepare('SELECT * FROM channels WHERE channel_id = ?'),
      byOwner: db.prepare('SELECT * FROM channels WHERE owner = ? ORDER BY created_at, rowid'),
    };
  }

  #prepared(): Statements {
    if (this.#statements === undefined) throw new Error('channel store is not open');
    return this.#statements;
  }

  insert(record: ChannelRecord): void {
    this.#prepared().insert.run(
      record.channelId,
      record.playlistId,
      record.owner,
      record.createdAt,
      JSON.stringify(record.spec),
    );
  }

  /** Marks a channel deleted; false when it was already deleted or does not exist. */
  markDeleted(channelId: string, at: string): boolean {
    return Number(this.#prepared().markDeleted.run(at, channelId).changes) === 1;
  }

  /** Replaces a live channel's spec; false when it was deleted or does not exist. */
  updateSpec(channelId: string, spec: ChannelSpec): boolean {
    return Number(this.#prepared().updateSpec.run(JSON.stringify(spec), channelId).changes) === 1;
  }

  /** Channels not deleted, every owner's. */
  countActive(): number {
    return (this.#prepared().countActive.get() as { count: number }).count;
  }

  get(channelId: string): ChannelRecord | undefined {
    const row = this.#prepared().byId.get(channelId) as ChannelRow | undefined;
    return row === undefined ? undefined : toRecord(row);
  }

  listByOwner(owner: string): ChannelRecord[] {
    return (this.#prepared().byOwner.all(owner) as unknown as ChannelRow[]).map(toRecord);
  }

  close(): void {
    this.#statements = undefined;
    this.#db?.close();
    this.#db = undefined;
  }
}
