// Admin API SMS controls (a Twofold extension beside duo-compat §5): the report, and the service desk's stops of texts to a user or number.
import { Type as T } from "@sinclair/typebox";
import type { ServiceRuntime } from "../../../runtime/runtime.ts";
import { strict, Text } from "../signed-routes.ts";
import { type AdminRoute, AnyObject, actorOf, Id, invalid, Path, pathOf, Whole } from "./admin-route.ts";
import { createFinders } from "./objects.ts";

export function registerSmsRoutes(admin: AdminRoute, runtime: ServiceRuntime): void {
  const { services } = runtime;
  const { userById } = createFinders(services);

  // Texts sent per day, spend against the cap, refusals by reason, stops and the breaker (`twofold sms report`).
  admin(
    "GET",
    "/admin/v1/sms/report",
    T.Object({ days: Whole(3) }, strict),
    AnyObject,
    async ({ params }) => {
      const days = params.days === undefined ? undefined : Number(params.days);
      if (days !== undefined && (days < 1 || days > 400)) throw invalid("days (1 to 400)");
      return { response: await services.readSmsReport(days === undefined ? {} : { days }) };
    },
  );

  // Open stops and pauses: the service desk's (users, numbers) and the breaker's (countries, prefixes, addresses).
  admin("GET", "/admin/v1/sms/stops", T.Object({}, strict), T.Array(AnyObject), async () => {
    const report = await services.readSmsReport({ days: 1 });
    return {
      response: [...report.stops, ...report.breaker.paused.filter((p) => p.active)],
    };
  });

  admin(
    "POST",
    "/admin/v1/sms/stops",
    T.Object({ user_id: T.Optional(Id), number: Text(32), reason: Text(500) }, strict),
    AnyObject,
    async (call) => {
      const { user_id, number, reason } = call.params;
      if ((user_id === undefined) === (number === undefined))
        throw invalid("user_id or number (exactly one)");
      if (!reason) throw invalid("reason");
      const target = user_id !== undefined ? { user: (await userById(user_id)).id } : { number: number! };
      return { response: await services.stopSms(actorOf(call), target, reason) };
    },
  );

  admin(
    "DELETE",
    "/admin/v1/sms/stops/:stop_id",
    T.Object({}, strict),
    T.Array(AnyObject),
    async (call) => ({ response: await services.resumeSms(actorOf(call), { id: pathOf(call).stop_id! }) }),
    Path("stop_id"),
  );
}
