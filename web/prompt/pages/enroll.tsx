// Enrolment in the prompt (spec/ux.md §2.1): a user who never had a second factor activates Twofold Authenticator here.
// Compiled with our runtime whichever tsconfig the loader finds (the `twofold` command may start in any directory):
/** @jsxRuntime automatic */
/** @jsxImportSource #jsx */
import type { SafeHTML } from "../../shared/jsx/jsx-runtime.ts";
import { Actions, type PromptChrome, PromptPage } from "./frame.tsx";

export function EnrollStartPage({ chrome, action }: { chrome: PromptChrome; action: string }): SafeHTML {
  const { t } = chrome;
  return (
    <PromptPage chrome={chrome} title={t.enrollTitle}>
      <h1>{t.enrollTitle}</h1>
      <p>{t.enrollText}</p>
      <Actions actions={[{ label: t.enrollStart, post: action, primary: true }]} />
    </PromptPage>
  );
}

export interface EnrollQRView {
  /** The activation QR code, an SVG from the QR generator (paths only), labelled by the caption. */
  qrSVG: SafeHTML;
  link: string;
  continueURL: string;
  newCodeAction: string;
}

export function EnrollQRPage({ chrome, view }: { chrome: PromptChrome; view: EnrollQRView }): SafeHTML {
  const { t } = chrome;
  return (
    <PromptPage chrome={chrome} title={t.enrollScanTitle}>
      <h1>{t.enrollScanTitle}</h1>
      <figure class="qr">
        {view.qrSVG}
        <figcaption id="activation-caption">{t.enrollScan}</figcaption>
      </figure>
      <p>
        <a href={view.link}>{t.enrollOnPhone}</a>
      </p>
      <Actions
        actions={[
          { label: t.enrollDone, href: view.continueURL, primary: true },
          { label: t.enrollNewCode, post: view.newCodeAction },
        ]}
      />
    </PromptPage>
  );
}
