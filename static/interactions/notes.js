// Clinical notes: local times, and a copy of unsaved editor text kept in this tab's
// sessionStorage until the server confirms it (an expired session or a reload between keystroke
// and autosave must not lose words). The copy is removed as soon as a save covers it.
(function () {
  function localize(root) {
    root.querySelectorAll("time[data-local-time]").forEach(function (el) {
      var at = new Date(el.getAttribute("datetime"));
      if (isNaN(at)) return;
      var opts = { hour: "2-digit", minute: "2-digit" };
      if (el.dataset.localTime === "datetime") { opts.month = "short"; opts.day = "numeric"; opts.year = "numeric"; }
      el.textContent = at.toLocaleString([], opts);
    });
  }

  function keepUnsaved() {
    var form = document.getElementById("note-form");
    if (!form || !window.sessionStorage) return;
    var key = "hintpartner-note-" + form.dataset.noteId;
    var title = document.getElementById("note-title");
    var body = document.getElementById("note-body");
    var edits = 0, sent = -1, kept = null;
    try { kept = JSON.parse(sessionStorage.getItem(key) || "null"); } catch (e) { kept = null; }
    var box = document.getElementById("note-unsaved");
    if (kept && kept.title === title.value && kept.body === body.value) {
      sessionStorage.removeItem(key);  // the server has it
    } else if (kept && box) {
      box.hidden = false;
      box.querySelector("button").addEventListener("click", function () {
        title.value = kept.title; body.value = kept.body; box.hidden = true;
        body.dispatchEvent(new Event("input", { bubbles: true }));
      });
    }
    if (title.value !== title.defaultValue || body.value !== body.defaultValue) {
      // The browser restored text the server never got: save it.
      setTimeout(function () { body.dispatchEvent(new Event("input", { bubbles: true })); }, 0);
    }
    form.addEventListener("input", function () {
      edits += 1;
      sessionStorage.setItem(key, JSON.stringify({ title: title.value, body: body.value }));
    });
    form.addEventListener("htmx:beforeRequest", function () { sent = edits; });
    form.addEventListener("htmx:afterRequest", function (e) {
      if (e.detail.xhr && e.detail.xhr.status === 200 && sent === edits) sessionStorage.removeItem(key);
    });
    document.querySelectorAll("[data-forget-unsaved]").forEach(function (el) {
      el.addEventListener("click", function () { sessionStorage.removeItem(key); });
    });
  }

  // Inside a chart: start Hint's SDK (it reports our height to Hint) and, when the chart moves to
  // another patient, go to that patient's notes through the clinical_chart surface.
  function followChart() {
    var ctx = document.getElementById("notes-context");
    var sdk = window.HintSDK;
    if (!ctx || !sdk || typeof sdk.init !== "function") return;
    sdk.init(function () {
      if (typeof sdk.onCurrentPatientChanged !== "function") return;
      sdk.onCurrentPatientChanged(function (next) {
        if (!next || !next.id || next.id === ctx.dataset.patientId) return;
        var url = new URL(ctx.dataset.chartUrl, window.location.href);
        url.searchParams.set("patient_id", next.id);
        window.location.replace(url.toString());
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    localize(document);
    keepUnsaved();
    followChart();
  });
  document.addEventListener("htmx:afterSettle", function (e) { localize(e.target); });
  // In the editor, a 409 (someone else saved) or 400 answer carries the page to show: swap it in.
  document.addEventListener("htmx:beforeSwap", function (e) {
    if (!e.target.closest || !e.target.closest("#note-editor")) return;
    var status = e.detail.xhr.status;
    if (status === 409 || status === 400) { e.detail.shouldSwap = true; e.detail.isError = false; }
  });
})();
