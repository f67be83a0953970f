// The end of a login in the iframe SDK (Web SDK v2): the page hands the parent its AUTH response (a behaviour posts it).
// Compiled with our runtime whichever tsconfig the loader finds (the `twofold` command may start in any directory):
/** @jsxRuntime automatic */
/** @jsxImportSource #jsx */
import type { SafeHTML } from "../../shared/jsx/jsx-runtime.ts";
import { type PromptChrome, PromptPage } from "./frame.tsx";

export interface FrameResultView {
  /** The parent page's origin: the only one the message is posted to. */
  parentOrigin: string;
  /** `AUTH|…|…`, verified by the application with duo_web's verify_response. */
  message: string;
  scripts: readonly string[];
}

export function FrameResultPage({ chrome, view }: { chrome: PromptChrome; view: FrameResultView }): SafeHTML {
  const { t } = chrome;
  return (
    <PromptPage chrome={chrome} title={t.loggedInTitle} scripts={view.scripts}>
      <section
        data-behaviour="frame-result"
        data-parent-origin={view.parentOrigin}
        data-message={view.message}
      >
        <h1>{t.loggedInTitle}</h1>
        <p role="status">{t.approved}</p>
      </section>
    </PromptPage>
  );
}
