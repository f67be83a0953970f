// Admin API users (duo-compat §5.2): list and search, create, read, modify, delete.
import { Type as T } from "@sinclair/typebox";
import type { ServiceRuntime } from "../../../runtime/runtime.ts";
import { parseURLEncoded, strict, Text } from "../signed-routes.ts";
import {
  type AdminRoute,
  AnyObject,
  actorOf,
  cleared,
  Empty,
  invalid,
  Paging,
  Path,
  pageMetadata,
  pageOf,
  pathOf,
  refuseUnsupported,
  STATUS,
  USER_PAGE,
} from "./admin-route.ts";
import { createFinders, userObject } from "./objects.ts";

// ------------------------------------------------------------------ parameters shared by routes

const UserFields = {
  username: Text(),
  realname: Text(200),
  email: Text(),
  status: STATUS,
  notes: Text(1000),
  alias1: Text(),
  alias2: Text(),
  alias3: Text(),
  alias4: Text(),
  aliases: Text(4000),
  firstname: Text(),
  lastname: Text(),
};
type UserParams = Partial<Record<keyof typeof UserFields, string>>;

/** Duo's `aliases` parameter: `alias1=a&alias2=b…` (up to 8), or `aliasN` slots over the current aliases. */
function aliasesFrom(params: UserParams, current: readonly string[]): string[] | undefined {
  const slotted = ([1, 2, 3, 4] as const).filter((n) => params[`alias${n}`] !== undefined);
  if (params.aliases !== undefined) {
    if (slotted.length > 0) throw invalid("aliases (give either aliases or alias1 to alias4)");
    const slots: string[] = [];
    for (const [name, value] of parseURLEncoded(params.aliases)) {
      const m = /^alias([1-8])$/.exec(name);
      if (!m) throw invalid("aliases (alias1=…&alias2=…, up to alias8)");
      slots[Number(m[1]) - 1] = value;
    }
    return slots.filter((a) => a !== undefined && a !== "");
  }
  if (slotted.length === 0) return undefined;
  const slots = [...current];
  for (const n of slotted) slots[n - 1] = params[`alias${n}`]!;
  return slots.filter((a) => a !== undefined && a !== "");
}

export function registerUserRoutes(admin: AdminRoute, runtime: ServiceRuntime): void {
  const { services } = runtime;
  const { userById } = createFinders(services);

  admin(
    "GET",
    "/admin/v1/users",
    T.Object({ username: Text(), email: Text(), ...Paging }, strict),
    T.Array(AnyObject),
    async ({ params }) => {
      if (params.username !== undefined || params.email !== undefined) {
        if (params.username !== undefined && params.email !== undefined) throw invalid("username or email");
        // The username or one of its aliases in any spelling of the one canonical form (or, for `email`,
        // the e-mail address): never a user found by e-mail when a username was asked for.
        const user =
          params.username !== undefined
            ? await services.findUserByName(params.username)
            : await services.findUserByEmail(params.email!);
        const found = user ? [await userObject(services, user)] : [];
        return {
          response: found,
          metadata: { total_objects: found.length, next_offset: null, prev_offset: null },
        };
      }
      const page = pageOf(params, USER_PAGE);
      const { users, total } = await services.listUsers(page);
      const objects = await Promise.all(users.map((u) => userObject(services, u)));
      return { response: objects, metadata: pageMetadata(page, users.length, total) };
    },
  );

  admin("POST", "/admin/v1/users", T.Object(UserFields, strict), AnyObject, async (call) => {
    const { params } = call;
    refuseUnsupported(params, ["firstname", "lastname"]);
    if (params.username === undefined) throw invalid("username");
    const created = await services.createUser(actorOf(call), {
      username: params.username,
      realName: cleared(params.realname) ?? null,
      email: cleared(params.email) ?? null,
      status: params.status ?? "active",
      notes: cleared(params.notes) ?? null,
      aliases: aliasesFrom(params, []) ?? [],
    });
    return { response: await userObject(services, (await services.getUser(created.id))!) };
  });

  admin(
    "GET",
    "/admin/v1/users/:user_id",
    T.Object({}, strict),
    AnyObject,
    async (call) => ({ response: await userObject(services, await userById(pathOf(call).user_id!)) }),
    Path("user_id"),
  );

  // Modify: `user_id` and any other field not listed is refused, never assigned (K4).
  admin(
    "POST",
    "/admin/v1/users/:user_id",
    T.Object(UserFields, strict),
    AnyObject,
    async (call) => {
      const { params } = call;
      refuseUnsupported(params, ["firstname", "lastname"]);
      const user = await userById(pathOf(call).user_id!);
      const aliases = aliasesFrom(params, await services.listUserAliases(user.id));
      const realName = cleared(params.realname);
      const email = cleared(params.email);
      const notes = cleared(params.notes);
      await services.updateUser(actorOf(call), user.id, {
        ...(params.username !== undefined ? { username: params.username } : {}),
        ...(realName !== undefined ? { realName } : {}),
        ...(email !== undefined ? { email } : {}),
        ...(params.status !== undefined ? { status: params.status } : {}),
        ...(notes !== undefined ? { notes } : {}),
        ...(aliases !== undefined ? { aliases } : {}),
      });
      return { response: await userObject(services, await userById(user.id)) };
    },
    Path("user_id"),
  );

  // Deleting a user that is already gone does nothing, as duo_client_python documents.
  admin(
    "DELETE",
    "/admin/v1/users/:user_id",
    T.Object({}, strict),
    Empty,
    async (call) => {
      const user = await services.getUser(pathOf(call).user_id!);
      if (user) await services.deleteUser(actorOf(call), user.id);
      return { response: "" };
    },
    Path("user_id"),
  );
}
