// Other options: the methods this user has and this application allows, as real buttons and links (spec/ux.md §2.1).
// Compiled with our runtime whichever tsconfig the loader finds (the `twofold` command may start in any directory):
/** @jsxRuntime automatic */
/** @jsxImportSource #jsx */
import type { SafeHTML } from "../../shared/jsx/jsx-runtime.ts";
import { type Action, Actions, type PromptChrome, PromptPage } from "./frame.tsx";

export function OptionsPage({
  chrome,
  entries,
  scripts = [],
}: {
  chrome: PromptChrome;
  entries: readonly Action[];
  /** Behaviours: the WebAuthn one shows its entries where the browser supports them. */
  scripts?: readonly string[];
}): SafeHTML {
  const { t } = chrome;
  return (
    <PromptPage chrome={chrome} title={t.otherOptions} scripts={scripts}>
      <h1>{t.optionsTitle}</h1>
      <Actions actions={entries} label={t.otherOptions} />
      <p class="hint">
        <a href="/help/no-phone">{t.lostPhone}</a>
      </p>
    </PromptPage>
  );
}
