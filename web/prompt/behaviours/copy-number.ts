// Push waiting on a phone: "Copy number" puts the number to type on the clipboard and says "Copied" (to screen readers
// too). Shown only where the clipboard can be written; without script the button never appears.

function startCopyNumber(button: HTMLButtonElement): void {
  const value = button.dataset["copy"] ?? "";
  const status = document.querySelector<HTMLElement>("[data-copy-status]");
  if (!value || !navigator.clipboard?.writeText) return;
  button.hidden = false;
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(value);
      if (status) {
        // Cleared first so that a second copy is announced again.
        status.textContent = "";
        setTimeout(() => {
          status.textContent = button.dataset["copied"] ?? "";
        }, 50);
      }
    } catch {
      // The browser refused the clipboard: the number stays on screen to type.
    }
  });
}

for (const button of document.querySelectorAll<HTMLButtonElement>("button[data-copy]"))
  startCopyNumber(button);
