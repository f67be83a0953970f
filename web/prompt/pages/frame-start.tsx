// Before a frame login's first action (Web SDK v2): a push, or going on without a second factor. Nothing happens
// until the page is shown; its behaviour submits the form once it runs in a frame, and without script the button does.
// Compiled with our runtime whichever tsconfig the loader finds (the `twofold` command may start in any directory):
/** @jsxRuntime automatic */
/** @jsxImportSource #jsx */
import type { SafeHTML } from "../../shared/jsx/jsx-runtime.ts";
import { Actions, type PromptChrome, PromptPage } from "./frame.tsx";

export interface FrameStartView {
  title: string;
  text: string;
  /** The form that takes the step, and its button. */
  action: string;
  label: string;
  /** Other options, where the user has any. */
  optionsURL: string | null;
  scripts: readonly string[];
}

export function FrameStartPage({ chrome, view }: { chrome: PromptChrome; view: FrameStartView }): SafeHTML {
  const { t } = chrome;
  return (
    <PromptPage chrome={chrome} title={view.title} scripts={view.scripts}>
      <section data-behaviour="frame-start">
        <h1>{view.title}</h1>
        <p>{view.text}</p>
        <Actions
          actions={[
            { label: view.label, post: view.action, primary: true, data: { "frame-start": "" } },
            ...(view.optionsURL === null ? [] : [{ label: t.otherOptions, href: view.optionsURL }]),
          ]}
        />
      </section>
    </PromptPage>
  );
}
