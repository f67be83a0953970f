// Web SDK v2: post the AUTH response to the parent page, to its registered origin only (Duo-Web-v2.js checks the sender).
for (const section of document.querySelectorAll<HTMLElement>('[data-behaviour="frame-result"]')) {
  const { parentOrigin, message } = section.dataset;
  if (parentOrigin && message && window.parent !== window) window.parent.postMessage(message, parentOrigin);
}
