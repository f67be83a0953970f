// "Trust this browser?" after a login with a factor that proves possession (spec/ux.md §2.1, T1–T3; I5).
// Compiled with our runtime whichever tsconfig the loader finds (the `twofold` command may start in any directory):
/** @jsxRuntime automatic */
/** @jsxImportSource #jsx */
import type { SafeHTML } from "../../shared/jsx/jsx-runtime.ts";
import { type PromptChrome, PromptPage } from "./frame.tsx";

export interface TrustView {
  action: string;
  days: number;
  appName: string;
}

/** Two real buttons, neither preselected: the choice is the user's. */
export function TrustPage({ chrome, view }: { chrome: PromptChrome; view: TrustView }): SafeHTML {
  const { t } = chrome;
  return (
    <PromptPage chrome={chrome} title={t.trustTitle}>
      <h1>{t.trustTitle}</h1>
      <p id="trust-text">{t.trustText(view.days, view.appName)}</p>
      <form method="post" action={view.action} aria-describedby="trust-text">
        <ul class="actions">
          <li>
            <button type="submit" name="choice" value="yes" class="button">
              {t.trustYes}
            </button>
          </li>
          <li>
            <button type="submit" name="choice" value="no" class="button">
              {t.trustNo}
            </button>
          </li>
        </ul>
      </form>
    </PromptPage>
  );
}
