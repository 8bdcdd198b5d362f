// Product pickers (a form with data-picker): a ticked product moves to the Chosen list and stays there
// while the search below changes; Enter in the search box searches instead of submitting the form. When
// every product found has moved up, the results say so instead of standing empty.
"use strict";

(() => {
  const pickers = document.querySelectorAll("form[data-picker]");
  pickers.forEach((form) => {
    const chosen = form.querySelector("[data-picker-chosen]");
    const found = form.querySelector("[data-picker-found]");
    if (!chosen || !found) {
      return;
    }
    const sayWhenAllChosen = () => {
      if (found.querySelector(".check, .empty, .all-chosen")) {
        return;
      }
      const note = document.createElement("p");
      note.className = "muted all-chosen";
      note.textContent = "Every product found is chosen; search for others.";
      found.append(note);
    };
    found.addEventListener("change", (event) => {
      const box = event.target;
      if (!box.matches('input[type="checkbox"]') || !box.checked) {
        return;
      }
      const check = box.closest(".check");
      const none = chosen.querySelector(".none-chosen");
      if (none) {
        none.remove();
      }
      chosen.append(check);
      box.focus();
      sayWhenAllChosen();
    });
    found.addEventListener("htmx:afterSwap", () => {
      chosen.querySelectorAll(".check").forEach((check) => {
        const again = found.querySelector(`.check[data-product-id="${CSS.escape(check.dataset.productId)}"]`);
        if (again) {
          again.remove();
        }
      });
      sayWhenAllChosen();
    });
    form.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && event.target.matches("[data-picker-search]")) {
        event.preventDefault();
      }
    });
  });
})();
