// The prompt's methods: each one an entry in Other options and its own routes under /prompt/:handle/<id>/. Add a method here.
import type { PromptMethodModule } from "./context.ts";
import { passcodeMethod } from "./passcode.ts";
import { pushMethod } from "./push.ts";
import { smsMethod } from "./sms.ts";
import { webauthnMethod } from "./webauthn.ts";

/**
 * In the order the prompt prefers them when the browser remembers none (strongest first, ux.md §2): a method
 * added here (WebAuthn before push) is offered, started and routed with nothing else to change.
 */
export type { PromptMethodModule };

export const PROMPT_METHOD_MODULES: readonly PromptMethodModule[] = [
  webauthnMethod,
  pushMethod,
  passcodeMethod,
  // Last: the weakest, and never started unasked (a text goes out only when the user asks for one).
  smsMethod,
];
