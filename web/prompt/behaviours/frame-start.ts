// The iframe SDK's first step (Web SDK v2): a page whose action must not follow from a GET (the browser may refuse the
// frame after the GET is answered: frame-ancestors). This script runs only once the browser shows the page in a frame
// it allows, so the action goes now. Opened on its own the page waits for the button: no parent could take the
// login's answer there.
for (const section of document.querySelectorAll<HTMLElement>('[data-behaviour="frame-start"]')) {
  if (window.parent !== window)
    section.querySelector<HTMLFormElement>("[data-frame-start] form")?.requestSubmit();
}
