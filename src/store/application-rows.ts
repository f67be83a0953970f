// The Application built from an applications row, reused while the row reads the same: shared by the aggregates that
// read applications (applications.ts, and login-sessions.ts's joined read), so neither imports the other.
import type { Application } from "../core/model.ts";
import { toApplication } from "./rows.ts";
import type { ApplicationsTable } from "./tables.ts";

/**
 * The last Application built for each id, with the row it was built from. Every read still reads the row; when
 * every column is as before, the same object is returned (so what is derived from it, such as the opened secret
 * key, is derived once), else a new one. An application changed or deleted by another node is therefore seen by
 * the very next read. Application objects are never mutated.
 */
const built = new Map<string, { row: ApplicationsTable; app: Application }>();
export const BUILT_MAX = 4096;

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

/** A deleted application: nothing built from it is kept. */
export function forgetBuiltApplication(id: string): void {
  built.delete(id);
}
