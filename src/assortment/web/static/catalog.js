// Catalog pages: Publish shows its progress (the server streams JSON lines while it publishes), and
// a GET form marked data-autosubmit (currency, compare-since) applies its select as soon as it changes.
"use strict";

(() => {
  const form = document.querySelector("form[data-publish]");
  const box = document.getElementById("publish-progress");
  if (form && box) {
    const bar = box.querySelector("progress");
    const stage = box.querySelector("[data-publish-stage]");
    const fail = (message) => {
      box.hidden = true;
      form.querySelector("button").disabled = false;
      let alert = document.getElementById("publish-error");
      if (!alert) {
        alert = document.createElement("div");
        alert.id = "publish-error";
        alert.className = "alert error";
        alert.setAttribute("role", "alert");
        box.after(alert);
      }
      alert.textContent = message;
    };
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      form.querySelector("button").disabled = true;
      box.hidden = false;
      bar.removeAttribute("value"); // indeterminate until the first figure arrives
      stage.textContent = "…";
      let answer;
      try {
        answer = await fetch(form.action, {
          method: "POST",
          body: new FormData(form),
          headers: { "X-Publish-Progress": "stream" },
          credentials: "same-origin",
        });
      } catch (error) {
        fail("The server could not be reached; try again.");
        return;
      }
      if (!answer.ok || !answer.body) {
        fail(`The publish was refused (${answer.status}); reload the page and try again.`);
        return;
      }
      const reader = answer.body.getReader();
      const decoder = new TextDecoder();
      let pending = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) {
          break;
        }
        pending += decoder.decode(value, { stream: true });
        let end;
        while ((end = pending.indexOf("\n")) >= 0) {
          const line = pending.slice(0, end);
          pending = pending.slice(end + 1);
          if (!line.trim()) {
            continue;
          }
          const message = JSON.parse(line);
          if (message.error) {
            fail(message.error);
            return;
          }
          if (message.url) {
            bar.max = 1;
            bar.value = 1;
            stage.textContent = "done";
            window.location.assign(message.url);
            return;
          }
          bar.max = Math.max(message.total, 1);
          bar.value = Math.min(message.done, bar.max);
          stage.textContent = `${message.stage}: ${message.done.toLocaleString()} of ${message.total.toLocaleString()}`;
        }
      }
      fail("The publish ended without an answer; reload the page to see whether it finished.");
    });
  }

  document.querySelectorAll("form[data-autosubmit]").forEach((auto) => {
    auto.querySelectorAll("select").forEach((select) => {
      select.addEventListener("change", () => auto.requestSubmit());
    });
  });
})();
