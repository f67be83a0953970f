// Applications (integrations) and their policies.
import type { Application } from "../../core/model.ts";
import type { ApplicationPatch } from "../../core/ports.ts";
import { toApplication } from "../rows.ts";
import type { SqliteConnection } from "../sqlite-connection.ts";
import { guard, hot, StoreContext } from "../store-context.ts";
import type { ApplicationsTable } from "../tables.ts";

const Q = { get: hot("application_get", "select * from applications where id = ?") };
const DATA_VERSION = "pragma data_version";

/**
 * The last Application built for each id, with the row it was built from. Every read still reads the row; when
 * every column is as before, the same object is returned (so what is derived from it, such as the opened secret
 * key, is derived once), else a new one. An application changed or deleted by another node is therefore seen by
 * the very next read. Application objects are never mutated.
 */
const built = new Map<string, { row: ApplicationsTable; app: Application }>();
const BUILT_MAX = 4096;

function sameRow(a: ApplicationsTable, b: ApplicationsTable): boolean {
  return (
    a.secret_sealed === b.secret_sealed &&
    Number(a.updated_at) === Number(b.updated_at) &&
    a.policy_json === b.policy_json &&
    a.status === b.status &&
    a.name === b.name &&
    a.type === b.type &&
    a.redirect_uris_json === b.redirect_uris_json &&
    Number(a.created_at) === Number(b.created_at)
  );
}

export function applicationOf(row: ApplicationsTable): Application {
  const known = built.get(row.id);
  if (known && sameRow(known.row, row)) return known.app;
  const app = toApplication(row);
  if (built.size >= BUILT_MAX) built.clear();
  built.set(row.id, { row, app });
  return app;
}

/**
 * SQLite: the applications this connection last read, answered without a read while nothing can have changed them.
 * `PRAGMA data_version` changes whenever another connection (another process, a command-line change, a second node
 * on the same file) commits anything; this connection's own writes to applications count in `generation`. Either
 * change, and the next read goes to the table. Reads inside a transaction always do, and are not kept.
 */
interface KnownApplications {
  generation: number;
  apps: Map<string, { app: Application; version: unknown; generation: number }>;
}
const knownBy = new WeakMap<SqliteConnection, KnownApplications>();

/**
 * A write to applications on this connection: what it remembers of them is read again. Counted before and after the
 * write, so that a read that ran meanwhile (and may have seen the row before it) is not kept either.
 */
async function changing<T>(sqlite: SqliteConnection | undefined, write: () => Promise<T>): Promise<T> {
  const known = sqlite && knownOf(sqlite);
  if (known) known.generation++;
  try {
    return await write();
  } finally {
    if (known) known.generation++;
  }
}

function knownOf(c: SqliteConnection): KnownApplications {
  let known = knownBy.get(c);
  if (!known) {
    known = { generation: 0, apps: new Map() };
    knownBy.set(c, known);
  }
  return known;
}

/** Part of KyselyStore (../kysely-store.ts): `this.db` is its connection, or the transaction it runs in. */
export abstract class ApplicationRecords extends StoreContext {
  async insertApplication(app: Application): Promise<void> {
    await changing(this.sqlite, () =>
      guard(
        () =>
          this.db
            .insertInto("applications")
            .values({
              id: app.id,
              name: app.name,
              type: app.type,
              secret_sealed: app.secretSealed,
              policy_json: JSON.stringify(app.policy),
              status: app.status,
              redirect_uris_json: app.redirectURIs?.length ? JSON.stringify(app.redirectURIs) : null,
              created_at: app.createdAt,
              updated_at: app.updatedAt,
            })
            .execute(),
        "ERR_CONFLICT",
      ),
    );
  }

  async getApplication(id: string): Promise<Application | undefined> {
    const c = this.sqlite;
    if (c && !this.inTransaction) {
      const known = knownOf(c);
      // Both taken before the read: a change that lands meanwhile makes the next read go to the table again.
      const version = (c.statement(DATA_VERSION).get() as { data_version: unknown }).data_version;
      const generation = known.generation;
      const hit = known.apps.get(id);
      if (hit && hit.version === version && hit.generation === generation) return hit.app;
      const app = await this.readApplication(id);
      if (!app) known.apps.delete(id);
      else {
        if (known.apps.size >= BUILT_MAX) known.apps.clear();
        known.apps.set(id, { app, version, generation });
      }
      return app;
    }
    return this.readApplication(id);
  }

  protected async readApplication(id: string): Promise<Application | undefined> {
    const [row] = await this.hotRows<ApplicationsTable>(Q.get, [id]);
    if (!row) {
      built.delete(id);
      return undefined;
    }
    return applicationOf(row);
  }

  async listApplications(): Promise<Application[]> {
    const rows = await guard(() => this.db.selectFrom("applications").selectAll().orderBy("name").execute());
    return rows.map(toApplication);
  }

  async updateApplication(
    id: string,
    patch: ApplicationPatch,
    now: number,
  ): Promise<Application | undefined> {
    const values: Partial<ApplicationsTable> = { updated_at: now };
    if (patch.name !== undefined) values.name = patch.name;
    if (patch.secretSealed !== undefined) values.secret_sealed = patch.secretSealed;
    if (patch.policy !== undefined) values.policy_json = JSON.stringify(patch.policy);
    if (patch.status !== undefined) values.status = patch.status;
    if (patch.redirectURIs !== undefined)
      values.redirect_uris_json = patch.redirectURIs.length > 0 ? JSON.stringify(patch.redirectURIs) : null;
    const r = await changing(this.sqlite, () =>
      guard(() => this.db.updateTable("applications").set(values).where("id", "=", id).executeTakeFirst()),
    );
    return Number(r.numUpdatedRows) === 1 ? this.getApplication(id) : undefined;
  }

  async deleteApplication(id: string): Promise<boolean> {
    const r = await changing(this.sqlite, () =>
      guard(() => this.db.deleteFrom("applications").where("id", "=", id).executeTakeFirst()),
    );
    return Number(r.numDeletedRows) === 1;
  }
}
