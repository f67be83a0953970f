// Pages that end or pause a login: logged in (Continue), page expired (Return to {app}), bad link, no usable method, faults.
// Compiled with our runtime whichever tsconfig the loader finds (the `twofold` command may start in any directory):
/** @jsxRuntime automatic */
/** @jsxImportSource #jsx */
import type { SafeHTML } from "../../shared/jsx/jsx-runtime.ts";
import { type Action, Actions, type PromptChrome, PromptPage } from "./frame.tsx";

export interface NoticeView {
  title: string;
  message: string;
  /** Error pages: "Error: " title, the message as an alert. */
  error: boolean;
  /** A reference the service desk can look up (faults). */
  reference?: string;
  actions: readonly Action[];
}

export function NoticePage({ chrome, view }: { chrome: PromptChrome; view: NoticeView }): SafeHTML {
  const { t } = chrome;
  return (
    <PromptPage chrome={chrome} title={view.error ? t.errorTitle(view.title) : view.title}>
      <h1>{view.title}</h1>
      {view.error ? (
        <div class="error-summary" role="alert">
          <p>{view.message}</p>
          {view.reference ? <p>{t.reference(view.reference)}</p> : null}
        </div>
      ) : (
        <p>{view.message}</p>
      )}
      {view.actions.length > 0 ? <Actions actions={view.actions} /> : null}
    </PromptPage>
  );
}
