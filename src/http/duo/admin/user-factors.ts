// Admin API: a user's phones and hardware tokens (duo-compat §5.2, §5.3, §5.4), attached and detached.
import { Type as T } from "@sinclair/typebox";
import { TwofoldError } from "../../../core/errors.ts";
import type { ServiceRuntime } from "../../../runtime/runtime.ts";
import { strict } from "../signed-routes.ts";
import {
  type AdminRoute,
  AnyObject,
  actorOf,
  Empty,
  Id,
  invalid,
  LIST_PAGE,
  notFound,
  Paging,
  Path,
  pageMetadata,
  pageOf,
  pageOfList,
  pathOf,
} from "./admin-route.ts";
import { createFinders, tokenObject, userPhones, userSummary } from "./objects.ts";

export function registerUserFactorRoutes(admin: AdminRoute, runtime: ServiceRuntime): void {
  const { services } = runtime;
  const { userById, tokenById, phoneById } = createFinders(services);

  admin(
    "GET",
    "/admin/v1/users/:user_id/phones",
    T.Object(Paging, strict),
    T.Array(AnyObject),
    async (call) => {
      const phones = await userPhones(services, await userById(pathOf(call).user_id!));
      const { slice, metadata } = pageOfList(phones, call.params);
      return { response: slice, metadata };
    },
    Path("user_id"),
  );

  admin(
    "POST",
    "/admin/v1/users/:user_id/phones",
    T.Object({ phone_id: Id }, strict),
    Empty,
    async (call) => {
      const user = await userById(pathOf(call).user_id!);
      const phone = await services.getPhone(call.params.phone_id);
      if (!phone) throw invalid("phone_id (no such phone)");
      await services.attachPhone(actorOf(call), phone.id, user.id);
      return { response: "" };
    },
    Path("user_id"),
  );

  admin(
    "DELETE",
    "/admin/v1/users/:user_id/phones/:phone_id",
    T.Object({}, strict),
    Empty,
    async (call) => {
      const { user_id, phone_id } = pathOf(call);
      const user = await userById(user_id!);
      const phone = await phoneById(phone_id!);
      if (phone.userId !== user.id) throw notFound();
      await services.detachPhone(actorOf(call), phone.id, user.id);
      return { response: "" };
    },
    Path("user_id", "phone_id"),
  );

  admin(
    "GET",
    "/admin/v1/users/:user_id/tokens",
    T.Object(Paging, strict),
    T.Array(AnyObject),
    async (call) => {
      const user = await userById(pathOf(call).user_id!);
      const page = pageOf(call.params, LIST_PAGE);
      const { credentials, total } = await services.listOTPCredentials({
        userId: user.id,
        kind: "token",
        ...page,
      });
      return {
        response: credentials.map((c) => tokenObject(c, [userSummary(user)])),
        metadata: pageMetadata(page, credentials.length, total),
      };
    },
    Path("user_id"),
  );

  admin(
    "POST",
    "/admin/v1/users/:user_id/tokens",
    T.Object({ token_id: Id }, strict),
    Empty,
    async (call) => {
      const user = await userById(pathOf(call).user_id!);
      const token = await services.getOTPCredential(call.params.token_id);
      if (token?.kind !== "token" || token.serial === null) throw invalid("token_id (no such token)");
      if (token.userId === user.id) return { response: "" };
      if (token.userId !== null) throw invalid("token_id (the token is lent to another user)");
      try {
        await services.assignToken(actorOf(call), token.serial, user.id);
      } catch (error) {
        if (error instanceof TwofoldError && error.code === "ERR_TOKEN_ASSIGNED")
          throw invalid("token_id (the token is lent to another user)");
        throw error;
      }
      return { response: "" };
    },
    Path("user_id"),
  );

  admin(
    "DELETE",
    "/admin/v1/users/:user_id/tokens/:token_id",
    T.Object({}, strict),
    Empty,
    async (call) => {
      const { user_id, token_id } = pathOf(call);
      const user = await userById(user_id!);
      const token = await tokenById(token_id!);
      if (token.userId !== user.id || token.serial === null) throw notFound();
      await services.unassignToken(actorOf(call), token.serial);
      return { response: "" };
    },
    Path("user_id", "token_id"),
  );
}
