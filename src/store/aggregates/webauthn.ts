// WebAuthn credentials and ceremonies: single-use challenges, a counter that only moves forward, capped live ceremonies.
import { sql } from "kysely";
import type { WebAuthnCeremony, WebAuthnCredential } from "../../core/model.ts";
import { num } from "../rows.ts";
import { guard, StoreContext } from "../store-context.ts";
import type { WebAuthnCeremoniesTable, WebAuthnCredentialsTable } from "../tables.ts";

function toCredential(r: WebAuthnCredentialsTable): WebAuthnCredential {
  return {
    id: r.id,
    userId: r.user_id,
    credentialId: r.credential_id,
    publicKey: r.public_key,
    userHandle: r.user_handle,
    signCount: Number(r.sign_count),
    transports: JSON.parse(r.transports_json) as string[],
    aaguid: r.aaguid,
    attestationFormat: r.attestation_format,
    backupEligible: Number(r.backup_eligible) === 1,
    backupState: Number(r.backup_state) === 1,
    deviceType: r.device_type as WebAuthnCredential["deviceType"],
    discoverable: r.discoverable === null ? null : Number(r.discoverable) === 1,
    name: r.name,
    status: r.status as WebAuthnCredential["status"],
    createdAt: Number(r.created_at),
    lastUsedAt: num(r.last_used_at),
  };
}

function toCeremony(r: WebAuthnCeremoniesTable): WebAuthnCeremony {
  return {
    id: r.id,
    kind: r.kind as WebAuthnCeremony["kind"],
    userId: r.user_id,
    contextHash: r.context_hash,
    challenge: r.challenge,
    userVerification: r.user_verification as WebAuthnCeremony["userVerification"],
    userHandle: r.user_handle,
    source: r.source,
    createdAt: Number(r.created_at),
    expiresAt: Number(r.expires_at),
  };
}

/** Part of KyselyStore (../kysely-store.ts): `this.db` is its connection, or the transaction it runs in. */
export abstract class WebAuthnRecords extends StoreContext {
  async insertWebAuthnCeremony(
    c: WebAuthnCeremony,
    caps: { perUser: number; perSource: number },
    now: number,
  ): Promise<boolean> {
    // INSERT … SELECT … WHERE the counts are under the caps: the check and the insert are one statement. (Two
    // nodes inserting at the same instant may each see the other's row missing, so a cap can be passed by the
    // number of nodes at most; it bounds the table, it is not a security counter.)
    const r = await guard(() =>
      sql`insert into webauthn_ceremonies
            (id, kind, user_id, context_hash, challenge, user_verification, user_handle, source, created_at, expires_at)
          select ${c.id}, ${c.kind}, ${c.userId}, ${c.contextHash}, ${c.challenge}, ${c.userVerification},
                 ${c.userHandle}, ${c.source}, ${c.createdAt}, ${c.expiresAt}
          where (select count(*) from webauthn_ceremonies where user_id = ${c.userId} and expires_at > ${now}) < ${caps.perUser}
            and (select count(*) from webauthn_ceremonies where source = ${c.source} and expires_at > ${now}) < ${caps.perSource}`.execute(
        this.db,
      ),
    );
    return Number(r.numAffectedRows ?? 0) === 1;
  }

  async consumeWebAuthnCeremony(id: string): Promise<WebAuthnCeremony | undefined> {
    const row = await guard(() =>
      this.db.deleteFrom("webauthn_ceremonies").where("id", "=", id).returningAll().executeTakeFirst(),
    );
    return row && toCeremony(row);
  }

  async insertWebAuthnCredential(c: WebAuthnCredential): Promise<void> {
    await guard(() =>
      this.db
        .insertInto("webauthn_credentials")
        .values({
          id: c.id,
          user_id: c.userId,
          credential_id: c.credentialId,
          public_key: c.publicKey,
          user_handle: c.userHandle,
          sign_count: c.signCount,
          transports_json: JSON.stringify(c.transports),
          aaguid: c.aaguid,
          attestation_format: c.attestationFormat,
          backup_eligible: c.backupEligible ? 1 : 0,
          backup_state: c.backupState ? 1 : 0,
          device_type: c.deviceType,
          discoverable: c.discoverable === null ? null : c.discoverable ? 1 : 0,
          name: c.name,
          status: c.status,
          created_at: c.createdAt,
          last_used_at: c.lastUsedAt,
        })
        .execute(),
    );
  }

  async getWebAuthnCredential(id: string): Promise<WebAuthnCredential | undefined> {
    const row = await guard(() =>
      this.db.selectFrom("webauthn_credentials").selectAll().where("id", "=", id).executeTakeFirst(),
    );
    return row && toCredential(row);
  }

  async findWebAuthnCredential(credentialId: string): Promise<WebAuthnCredential | undefined> {
    const row = await guard(() =>
      this.db
        .selectFrom("webauthn_credentials")
        .selectAll()
        .where("credential_id", "=", credentialId)
        .executeTakeFirst(),
    );
    return row && toCredential(row);
  }

  async listWebAuthnCredentials(userId: string): Promise<WebAuthnCredential[]> {
    const rows = await guard(() =>
      this.db
        .selectFrom("webauthn_credentials")
        .selectAll()
        .where("user_id", "=", userId)
        .orderBy("created_at")
        .orderBy("id")
        .execute(),
    );
    return rows.map(toCredential);
  }

  async advanceWebAuthnCounter(
    id: string,
    signCount: number,
    backupState: boolean,
    now: number,
  ): Promise<boolean> {
    // WebAuthn §6.1.1: a counter only grows; an authenticator without one always sends 0. The condition is part
    // of the write, so parallel assertions can never move the stored value backwards (F4).
    const r = await guard(() =>
      this.db
        .updateTable("webauthn_credentials")
        .set({ sign_count: signCount, backup_state: backupState ? 1 : 0, last_used_at: now })
        .where("id", "=", id)
        .where("status", "=", "active")
        // 0 is accepted only while the stored value is 0 too; any other value only above the stored one.
        .where("sign_count", signCount === 0 ? "=" : "<", signCount)
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
  }

  async markWebAuthnCredentialSuspect(id: string): Promise<boolean> {
    const r = await guard(() =>
      this.db
        .updateTable("webauthn_credentials")
        .set({ status: "suspect" })
        .where("id", "=", id)
        .where("status", "=", "active")
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
  }

  async renameWebAuthnCredential(id: string, name: string): Promise<boolean> {
    const r = await guard(() =>
      this.db.updateTable("webauthn_credentials").set({ name }).where("id", "=", id).executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
  }

  async deleteWebAuthnCredential(id: string): Promise<boolean> {
    const r = await guard(() =>
      this.db.deleteFrom("webauthn_credentials").where("id", "=", id).executeTakeFirst(),
    );
    return Number(r.numDeletedRows) === 1;
  }

  async pruneWebAuthnCeremonies(before: number, limit: number): Promise<number> {
    const r = await guard(() =>
      this.db
        .deleteFrom("webauthn_ceremonies")
        .where("id", "in", (qb) =>
          qb
            .selectFrom("webauthn_ceremonies")
            .select("id")
            .where("expires_at", "<=", before)
            .orderBy("expires_at")
            .limit(limit),
        )
        .executeTakeFirst(),
    );
    return Number(r.numDeletedRows);
  }
}
