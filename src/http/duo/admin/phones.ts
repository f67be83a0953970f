// Admin API phones (duo-compat §5.3): list, create, read, modify, delete, activation links.
import { Type as T } from "@sinclair/typebox";
import { activationLink, publicBaseUrl } from "../../../config/load.ts";
import type { ServiceRuntime } from "../../../runtime/runtime.ts";
import { createActivationBarcodeURL } from "../../activation-barcode.ts";
import { Flag, strict, Text } from "../signed-routes.ts";
import {
  type AdminRoute,
  AnyObject,
  actorOf,
  Empty,
  invalid,
  LIST_PAGE,
  Paging,
  Path,
  pageMetadata,
  pageOf,
  pathOf,
  refuseUnsupported,
  seconds,
  truthy,
  Whole,
} from "./admin-route.ts";
import { createFinders } from "./objects.ts";

export function registerPhoneRoutes(admin: AdminRoute, runtime: ServiceRuntime): void {
  const { services } = runtime;
  const { phoneById, phoneWithUsers } = createFinders(services);
  const now = () => runtime.clock.now();

  const PhoneFields = {
    number: Text(32),
    extension: Text(32),
    name: Text(100),
    type: Text(32),
    platform: Text(64),
    predelay: Text(8),
    postdelay: Text(8),
  };
  const phoneInput = (params: Partial<Record<keyof typeof PhoneFields, string>>) => {
    // Voice-call delays mean nothing without calls: refused rather than stored and ignored.
    refuseUnsupported(params, ["predelay", "postdelay"]);
    return {
      ...(params.number !== undefined ? { number: params.number } : {}),
      ...(params.extension !== undefined ? { extension: params.extension } : {}),
      ...(params.name !== undefined ? { name: params.name } : {}),
      ...(params.type !== undefined ? { type: params.type.toLowerCase() } : {}),
      ...(params.platform !== undefined ? { platform: params.platform.toLowerCase() } : {}),
    };
  };

  admin(
    "GET",
    "/admin/v1/phones",
    T.Object({ number: Text(32), extension: Text(32), ...Paging }, strict),
    T.Array(AnyObject),
    async ({ params }) => {
      const page = pageOf(params, LIST_PAGE);
      if (params.extension !== undefined && params.number === undefined)
        throw invalid("extension (with number)");
      let { phones, total } = await services.listPhones({
        ...page,
        ...(params.number !== undefined ? { number: params.number } : {}),
      });
      if (params.extension !== undefined) {
        const all = await services.listPhones({ number: params.number!, limit: LIST_PAGE.max, offset: 0 });
        const matching = all.phones.filter((p) => (p.extension ?? "") === params.extension);
        phones = matching.slice(page.offset, page.offset + page.limit);
        total = matching.length;
      }
      const objects = await Promise.all(phones.map(phoneWithUsers));
      return { response: objects, metadata: pageMetadata(page, phones.length, total) };
    },
  );

  admin("POST", "/admin/v1/phones", T.Object(PhoneFields, strict), AnyObject, async (call) => {
    const phone = await services.createPhone(actorOf(call), phoneInput(call.params));
    return { response: await phoneWithUsers(phone) };
  });

  admin(
    "GET",
    "/admin/v1/phones/:phone_id",
    T.Object({}, strict),
    AnyObject,
    async (call) => ({ response: await phoneWithUsers(await phoneById(pathOf(call).phone_id!)) }),
    Path("phone_id"),
  );

  admin(
    "POST",
    "/admin/v1/phones/:phone_id",
    T.Object(PhoneFields, strict),
    AnyObject,
    async (call) => {
      const phone = await phoneById(pathOf(call).phone_id!);
      const updated = await services.updatePhone(actorOf(call), phone.id, phoneInput(call.params));
      return { response: await phoneWithUsers(updated) };
    },
    Path("phone_id"),
  );

  // Deleting a phone that is already gone does nothing, as duo_client_python documents.
  admin(
    "DELETE",
    "/admin/v1/phones/:phone_id",
    T.Object({}, strict),
    Empty,
    async (call) => {
      await services.deletePhone(actorOf(call), pathOf(call).phone_id!);
      return { response: "" };
    },
    Path("phone_id"),
  );

  // Twofold's own: a number receives text-message passcodes only once a code sent to it was typed back (E2).
  admin(
    "POST",
    "/admin/v1/phones/:phone_id/sms_verification",
    T.Object({}, strict),
    AnyObject,
    async (call) => {
      const phone = await phoneById(pathOf(call).phone_id!);
      const sent = await services.sendPhoneVerification(actorOf(call), phone.id, { ip: call.request.ip });
      return {
        response: sent.sent
          ? { sent: true, number: sent.maskedNumber, expires: Math.floor(sent.expiresAt / 1000) }
          : { sent: false, reason: sent.reason, message: sent.message },
      };
    },
    Path("phone_id"),
  );

  admin(
    "POST",
    "/admin/v1/phones/:phone_id/sms_verification/confirm",
    T.Object({ code: T.String({ minLength: 1, maxLength: 16 }) }, strict),
    AnyObject,
    async (call) => {
      const phone = await phoneById(pathOf(call).phone_id!);
      const verified = await services.confirmPhoneVerification(actorOf(call), {
        phoneId: phone.id,
        code: call.params.code,
      });
      return { response: await phoneWithUsers(verified) };
    },
    Path("phone_id"),
  );

  admin(
    "POST",
    "/admin/v1/phones/:phone_id/activation_url",
    T.Object({ valid_secs: Whole(9), install: Flag }, strict),
    AnyObject,
    async (call) => {
      const { params } = call;
      const phone = await phoneById(pathOf(call).phone_id!);
      if (!phone.userId) throw invalid("phone_id (attach the phone to a user first)");
      const asked = params.valid_secs === undefined ? 86_400 : Number(params.valid_secs);
      if (asked < 1) throw invalid("valid_secs");
      const ticket = await services.createPhoneActivation(actorOf(call), phone.id, { validSeconds: asked });
      const link = activationLink(runtime.config, ticket.token.reveal());
      const base = publicBaseUrl(runtime.config);
      return {
        response: {
          activation_url: link,
          activation_barcode: await createActivationBarcodeURL(runtime, ticket),
          // What the link really gets: policy caps activation links (G5).
          valid_secs: seconds(ticket.expiresAt - now()),
          ...(truthy(params.install) ? { installation_url: `${base}/authenticator` } : {}),
        },
      };
    },
    Path("phone_id"),
  );
}
