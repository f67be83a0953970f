// Applications (integrations) and their policies.
import type { Application } from "../../core/model.ts";
import type { ApplicationPatch } from "../../core/ports.ts";
import { applicationOf, BUILT_MAX, forgetBuiltApplication } from "../application-rows.ts";
import { KeptReads } from "../kept-reads.ts";
import { toApplication } from "../rows.ts";
import { guard, hot, StoreContext } from "../store-context.ts";
import type { ApplicationsTable } from "../tables.ts";

const Q = { get: hot("application_get", "select * from applications where id = ?") };

/** SQLite: the applications this connection read, kept while nothing can have changed them (kept-reads.ts). */
const kept = new KeptReads<Application>(BUILT_MAX);

/** Part of KyselyStore (../kysely-store.ts): `this.db` is its connection, or the transaction it runs in. */
export abstract class ApplicationRecords extends StoreContext {
  async insertApplication(app: Application): Promise<void> {
    await kept.changing(this.sqlite, () =>
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
    if (c && !this.inTransaction) return kept.read(c, id, () => this.readApplication(id));
    return this.readApplication(id);
  }

  protected async readApplication(id: string): Promise<Application | undefined> {
    const [row] = await this.hotRows<ApplicationsTable>(Q.get, [id]);
    if (!row) {
      forgetBuiltApplication(id);
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
    const r = await kept.changing(this.sqlite, () =>
      guard(() => this.db.updateTable("applications").set(values).where("id", "=", id).executeTakeFirst()),
    );
    return Number(r.numUpdatedRows) === 1 ? this.getApplication(id) : undefined;
  }

  async deleteApplication(id: string): Promise<boolean> {
    const r = await kept.changing(this.sqlite, () =>
      guard(() => this.db.deleteFrom("applications").where("id", "=", id).executeTakeFirst()),
    );
    return Number(r.numDeletedRows) === 1;
  }
}
