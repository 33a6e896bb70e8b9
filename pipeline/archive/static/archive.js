"use strict";
// The archive's pages: saving a show's vocabulary (the rest is links and forms).
(() => {
  const form = document.getElementById("vocabulary");
  if (!form) return;
  const state = form.querySelector(".state");
  form.addEventListener("submit", async ev => {
    ev.preventDefault();
    state.textContent = "saving…";
    try {
      const reply = await fetch("/show/vocabulary", {method: "POST", headers: {"content-type": "application/json"},
        body: JSON.stringify({show: form.dataset.show, terms: form.terms.value})});
      const text = await reply.text();
      if (!reply.ok) { state.textContent = "not saved: " + text; return; }
      const terms = JSON.parse(text).terms;
      form.terms.value = terms.join("\n") + (terms.length ? "\n" : "");
      state.textContent = `saved: ${terms.length} term${terms.length === 1 ? "" : "s"}`;
    } catch (err) { state.textContent = "not saved: " + err.message; }
  });
})();
