// "Keep this page open" (WCAG 2.2.1, ux.md §1: a login page expires after 10 minutes idle): after 9 minutes without a
// page load or action the notice shows with its button; pressing it tells the server, which moves the expiry on.

function startKeepAlive(root: HTMLElement): void {
  const url = root.dataset["url"] ?? "";
  const warnAfterMs = Number(root.dataset["warnAfter"] ?? "540") * 1000;
  const notice = root.querySelector<HTMLElement>("[data-keep-alive-notice]");
  const button = root.querySelector<HTMLButtonElement>("[data-keep-alive-button]");
  const status = root.querySelector<HTMLElement>("[data-keep-alive-status]");
  if (!notice || !button || !url) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => {
      notice.hidden = false;
      if (status) status.textContent = "";
      notice.querySelector<HTMLElement>("h2")?.focus();
    }, warnAfterMs);
  };
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json" },
        body: "{}",
      });
      // The login ended meanwhile: the page itself now says what is left to do.
      if (!response.ok) {
        window.location.reload();
        return;
      }
      notice.hidden = true;
      if (status) status.textContent = root.dataset["kept"] ?? "";
      arm();
    } catch {
      // Offline for a moment: the button stays for another try.
    } finally {
      button.disabled = false;
    }
  });
  arm();
}

for (const root of document.querySelectorAll<HTMLElement>('[data-behaviour="keep-alive"]'))
  startKeepAlive(root);
