// Assortment workbench: small progressive enhancements (no inline script anywhere: CSP script-src 'self').
"use strict";

// In-page dialogs: a button with data-open-dialog="ID" opens <dialog id=ID>; data-close-dialog closes its dialog.
document.addEventListener("click", (event) => {
  const opener = event.target.closest("[data-open-dialog]");
  if (opener) {
    const dialog = document.getElementById(opener.dataset.openDialog);
    if (dialog && !dialog.open) {
      dialog.returnFocusTo = opener;
      dialog.showModal();
    }
    return;
  }
  const closer = event.target.closest("[data-close-dialog]");
  if (closer) {
    const dialog = closer.closest("dialog");
    if (dialog) dialog.close();
  }
});

document.addEventListener("close", (event) => {
  const dialog = event.target;
  if (dialog instanceof HTMLDialogElement && dialog.returnFocusTo) {
    dialog.returnFocusTo.focus();
  }
}, true);
