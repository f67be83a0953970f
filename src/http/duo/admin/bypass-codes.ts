// Admin API bypass codes (duo-compat §5.5): issue for a user, list, read and revoke; never a code after issue.
import { Type as T } from "@sinclair/typebox";
import type { ServiceRuntime } from "../../../runtime/runtime.ts";
import { Flag, strict, Text } from "../signed-routes.ts";
import {
  type AdminRoute,
  AnyObject,
  actorOf,
  Empty,
  invalid,
  LIST_PAGE,
  MAX_BYPASS_COUNT,
  notFound,
  Paging,
  Path,
  pageMetadata,
  pageOf,
  pageOfList,
  pathOf,
  truthy,
  Whole,
} from "./admin-route.ts";
import { bypassObject, createFinders, createLookups, isLive } from "./objects.ts";

export function registerBypassCodeRoutes(admin: AdminRoute, runtime: ServiceRuntime): void {
  const { services } = runtime;
  const { userById } = createFinders(services);
  const now = () => runtime.clock.now();

  admin(
    "POST",
    "/admin/v1/users/:user_id/bypass_codes",
    T.Object(
      {
        count: Whole(3),
        codes: Text(2000),
        reuse_count: Whole(6),
        valid_secs: Whole(9),
        preserve_existing: Flag,
      },
      strict,
    ),
    T.Array(T.String()),
    async (call) => {
      const { params } = call;
      // Codes are always random (C1): chosen codes could be guessed or reused elsewhere.
      if (params.codes !== undefined) throw invalid("codes (not supported: codes are always random)");
      const user = await userById(pathOf(call).user_id!);
      const count = Number(params.count ?? MAX_BYPASS_COUNT);
      if (count < 1 || count > MAX_BYPASS_COUNT) throw invalid(`count (1 to ${MAX_BYPASS_COUNT})`);
      // Duo's defaults: one use, no expiry. Where policy forbids either, the call is refused, not changed.
      const issued = await services.issueBypassCodes(actorOf(call), user.id, {
        count,
        uses: Number(params.reuse_count ?? 1),
        validSeconds: Number(params.valid_secs ?? 0),
        replaceExisting: !truthy(params.preserve_existing),
        source: "api",
      });
      return { response: issued.codes.reveal() };
    },
    Path("user_id"),
  );

  admin(
    "GET",
    "/admin/v1/users/:user_id/bypass_codes",
    T.Object(Paging, strict),
    T.Array(AnyObject),
    async (call) => {
      const user = await userById(pathOf(call).user_id!);
      const live = (await services.listLiveBypassCodes(user.id)).reverse();
      const { slice, metadata } = pageOfList(live, call.params);
      return { response: slice.map((c) => bypassObject(c, user)), metadata };
    },
    Path("user_id"),
  );

  admin("GET", "/admin/v1/bypass_codes", T.Object(Paging, strict), T.Array(AnyObject), async ({ params }) => {
    const page = pageOf(params, LIST_PAGE);
    const { codes, total } = await services.listAllLiveBypassCodes(page);
    const lookups = createLookups(services);
    const objects = await Promise.all(codes.map(async (c) => bypassObject(c, await lookups.user(c.userId))));
    return { response: objects, metadata: pageMetadata(page, codes.length, total) };
  });

  const liveBypassCode = async (id: string) => {
    const code = await services.getBypassCode(id);
    if (!code || !isLive(code, now())) throw notFound();
    return code;
  };

  admin(
    "GET",
    "/admin/v1/bypass_codes/:bypass_code_id",
    T.Object({}, strict),
    AnyObject,
    async (call) => {
      const code = await liveBypassCode(pathOf(call).bypass_code_id!);
      return { response: bypassObject(code, await services.getUser(code.userId)) };
    },
    Path("bypass_code_id"),
  );

  admin(
    "DELETE",
    "/admin/v1/bypass_codes/:bypass_code_id",
    T.Object({}, strict),
    Empty,
    async (call) => {
      const code = await liveBypassCode(pathOf(call).bypass_code_id!);
      await services.revokeBypassCode(actorOf(call), code.id);
      return { response: "" };
    },
    Path("bypass_code_id"),
  );
}
