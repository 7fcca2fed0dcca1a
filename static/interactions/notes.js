// Clinical notes: editor text not yet saved kept on this device (localStorage) until
// the server confirms exactly that text, and offered back when the note is opened again, in this
// tab or another; an expired session that keeps the editor and says so; and a pending save
// flushed before following the chart to another patient.
(function () {
  "use strict";
  // One entry per note: {title, body, base, at}. Never the session key. Kept only while unsaved.
  var DRAFT_PREFIX = "hintpartner-draft:";
  // Patient text must not linger on a shared machine: drafts nobody came back for go.
  var DRAFT_MAX_AGE_MS = 7 * 24 * 60 * 60 * 1000;
  // How long following the chart waits for the pending save; after it the text stays stored.
  var FLUSH_TIMEOUT_MS = 4000;

  var editor = null;  // the open editor, for the flush before following the chart

  // --- drafts in localStorage (absent, full or blocked storage must never break the editor) ---
  function storage() {
    try { return window.localStorage || null; } catch (e) { return null; }
  }
  function draftKey(practiceId, noteId) { return DRAFT_PREFIX + practiceId + ":" + noteId; }
  function draftRead(key) {
    var s = storage();
    if (!s) return null;
    try {
      var draft = JSON.parse(s.getItem(key) || "null");
      return draft && typeof draft.body === "string" && typeof draft.title === "string" ? draft : null;
    } catch (e) { return null; }
  }
  function draftWrite(key, draft) {
    var s = storage();
    if (!s) return false;
    try { s.setItem(key, JSON.stringify(draft)); return true; } catch (e) { return false; }
  }
  function draftForget(key) {
    var s = storage();
    if (!s) return;
    try { s.removeItem(key); } catch (e) { /* nothing kept, nothing to remove */ }
  }
  function draftsPrune() {
    var s = storage();
    if (!s) return;
    try {
      for (var i = s.length - 1; i >= 0; i--) {
        var key = s.key(i);
        if (!key || key.indexOf(DRAFT_PREFIX) !== 0) continue;
        var draft = draftRead(key);
        if (!draft || !(Date.now() - new Date(draft.at).getTime() < DRAFT_MAX_AGE_MS)) s.removeItem(key);
      }
    } catch (e) { /* storage blocked: nothing to prune */ }
  }
  function sameText(a, b) { return !!(a && b && a.title === b.title && a.body === b.body); }
  // The pages' one date-time format (hintpartner/dates.py), in the practice's zone.
  function when(iso, zone) {
    var at = new Date(iso);
    if (isNaN(at)) return "earlier";
    var opts = { month: "short", day: "numeric", year: "numeric", hour: "numeric", minute: "2-digit",
                 timeZoneName: "short" };
    try { opts.timeZone = zone || "UTC"; return at.toLocaleString("en-US", opts).replace(/\s/g, " "); }
    catch (e) { opts.timeZone = "UTC"; return at.toLocaleString("en-US", opts).replace(/\s/g, " "); }
  }

  // --- the editor ---
  function inEditor(elt) { return !!(elt && elt.closest && elt.closest("#note-editor")); }

  function editorStart() {
    var form = document.getElementById("note-form");
    if (!form) return;
    var key = draftKey(form.dataset.practiceId, form.dataset.noteId);
    var title = document.getElementById("note-title");
    var body = document.getElementById("note-body");
    // `kept`: whether storage holds the text (false when blocked or full: then flush always).
    var state = { form: form, key: key, expired: false, kept: !!storage() };
    editor = state;

    function text() { return { title: title.value, body: body.value }; }
    function base() {
      var el = document.getElementById("note-base-version");
      return el ? el.value : "";
    }
    state.text = text;
    state.keep = function () {
      state.kept = draftWrite(key, { title: title.value, body: body.value, base: base(), at: new Date().toISOString() });
    };
    state.unsaved = function () { return !state.kept || !!draftRead(key); };
    state.saved = function (sent) {
      // The server holds `sent` now: forget the copy if it is that text, else it was typed on
      // top of `sent`, whose version the answer just put in base_version.
      var kept = draftRead(key);
      if (sameText(kept, sent)) { draftForget(key); return; }
      if (kept) { kept.base = base(); draftWrite(key, kept); }
    };

    var offered = draftRead(key);
    if (title.value !== title.defaultValue || body.value !== body.defaultValue) {
      // The browser restored text the server never got: keep it and save it.
      state.keep();
      setTimeout(function () { htmx.trigger(form, "submit"); }, 0);
    } else if (offered && sameText(offered, text())) {
      draftForget(key);  // the server has it
    } else if (offered) {
      offer(state, offered, title, body);
    }

    // The status line's words hold only while they are true (README, "Status words"): the
    // server's words describe the text it stored; while the editor holds other text, or a save
    // is on its way, they are hidden behind "Not saved yet" or "Saving…".
    // What the server holds, as far as this page knows: the text the page came with.
    var stored = { title: title.defaultValue, body: body.defaultValue };
    var inFlight = 0;
    state.statusShow = function () {
      var el = document.getElementById("note-status");
      if (!el || el.hasAttribute("data-not-saved")) return;  // a refusal or a conflict stays
      var local = el.querySelector("[data-status-local]");
      var server = el.querySelector("[data-status-server]");
      if (!local || !server) return;
      var words = inFlight ? "Saving…" : (sameText(stored, text()) ? "" : "Not saved yet");
      local.textContent = words;
      local.hidden = !words;
      server.hidden = !!words;
    };

    form.addEventListener("input", function () {
      state.keep();
      state.statusShow();
      if (state.expired) expiredShow();
    });
    // Which text each save request carried (the sign button posts the form's fields too).
    form.addEventListener("htmx:beforeRequest", function (e) {
      if (e.detail.elt === form || e.detail.elt.hasAttribute("data-saves-note")) {
        if (state.expired) return;  // refused below (document listener): no request goes
        e.detail.xhr.noteSent = text();
        inFlight += 1;
        state.statusShow();
      }
    });
    form.addEventListener("htmx:afterRequest", function (e) {
      var xhr = e.detail.xhr;
      if (!xhr || !xhr.noteSent) return;
      inFlight = Math.max(0, inFlight - 1);
      if (xhr.status >= 200 && xhr.status < 300) {
        state.saved(xhr.noteSent);
        stored = xhr.noteSent;
      }
      state.statusShow();
    });
    // A new status line from the server (a save's answer, a push, a poll): same rule.
    document.addEventListener("htmx:load", function (e) {
      if (e.target && (e.target.id === "note-status" || (e.target.querySelector && e.target.querySelector("#note-status")))) state.statusShow();
    });
  }

  function offer(state, draft, title, body) {
    var box = document.getElementById("note-unsaved");
    if (!box) return;
    var timeEl = box.querySelector("[data-draft-time]");
    timeEl.textContent = when(draft.at, timeEl.dataset.timeZone);
    box.hidden = false;
    box.querySelector("[data-draft-restore]").addEventListener("click", function () {
      box.hidden = true;
      title.value = draft.title;
      body.value = draft.body;
      // Saved over the version the text was written on: if the note changed since (another
      // tab), the usual conflict page shows both versions instead of overwriting either.
      var baseEl = document.getElementById("note-base-version");
      if (baseEl && draft.base) baseEl.value = draft.base;
      state.keep();
      htmx.trigger(state.form, "submit");
    });
    box.querySelector("[data-draft-discard]").addEventListener("click", function () {
      box.hidden = true;
      draftForget(state.key);
    });
  }

  // A 401 inside the editor: the session ended. Keep the page and its text (no HX-Refresh to
  // the "open this app again" page), say where the text is and how to continue, send no more.
  function expiredShow() {
    var box = document.getElementById("note-expired");
    if (!box || !editor) return;
    // Kept on this device, all saved already, or neither (storage blocked): say which.
    var unkept = !editor.kept;
    var kept = !unkept && !!draftRead(editor.key);
    box.querySelector("[data-expired-kept]").hidden = !kept;
    box.querySelector("[data-expired-saved]").hidden = kept || unkept;
    box.querySelector("[data-expired-unkept]").hidden = !unkept;
    if (box.hidden) { box.hidden = false; box.scrollIntoView({ block: "nearest" }); }
  }
  document.addEventListener("htmx:beforeOnLoad", function (e) {
    var xhr = e.detail.xhr;
    if (!xhr || xhr.status !== 401 || !editor || !inEditor(e.detail.elt)) return;
    e.preventDefault();
    editor.expired = true;
    expiredShow();
  });
  document.addEventListener("htmx:beforeRequest", function (e) {
    // The page's key is dead: autosaves and polls would only answer 401 again.
    if (editor && editor.expired && inEditor(e.detail.elt)) e.preventDefault();
  });
  document.addEventListener("htmx:afterRequest", function (e) {
    var elt = e.detail.elt;
    var xhr = e.detail.xhr;
    if (editor && elt && elt.hasAttribute && elt.hasAttribute("data-forget-unsaved-after") && xhr && xhr.status >= 200 && xhr.status < 300) {
      draftForget(editor.key);  // a discarded draft
    }
  });
  document.addEventListener("click", function (e) {
    if (editor && e.target.closest && e.target.closest("[data-forget-unsaved]")) draftForget(editor.key);
  });

  // Save what the editor holds now and wait for the answer (or FLUSH_TIMEOUT_MS, after which
  // the text simply stays in localStorage). Resolves at once when nothing is unsaved.
  function editorFlush() {
    if (!editor || editor.expired || !editor.unsaved() || !window.htmx) return Promise.resolve();
    var form = editor.form;
    return new Promise(function (resolve) {
      var done = false;
      function finish() {
        if (done) return;
        done = true;
        form.removeEventListener("htmx:afterRequest", answered);
        resolve();
      }
      function answered(e) {
        var xhr = e.detail.xhr;
        if (!xhr || !xhr.noteSent) return;
        // Refused or failed: the copy stays in storage. Saved: done once it was this text (an
        // earlier save still in flight answers first).
        var ok = xhr.status >= 200 && xhr.status < 300;
        if (!ok || sameText(xhr.noteSent, editor.text())) finish();
      }
      form.addEventListener("htmx:afterRequest", answered);
      setTimeout(finish, FLUSH_TIMEOUT_MS);
      htmx.trigger(form, "submit");
    });
  }

  // Inside a chart: start Hint's SDK (it reports our height to Hint) and, when the chart moves to
  // another patient, save the editor's text first, then go to that patient's notes through the
  // clinical_chart surface.
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
        editorFlush().then(function () { window.location.replace(url.toString()); });
      });
    });
  }

  // A signed note takes no more drafts: forget any copy of its text on this device.
  function signedForget() {
    var el = document.getElementById("note-drafts-forget");
    if (el) draftForget(draftKey(el.dataset.practiceId, el.dataset.noteId));
  }

  document.addEventListener("DOMContentLoaded", function () {
    draftsPrune();
    signedForget();
    editorStart();
    followChart();
  });
  // In the editor, a 409 (someone else saved) or 400 answer carries the page to show: swap it in.
  document.addEventListener("htmx:beforeSwap", function (e) {
    if (!e.target.closest || !e.target.closest("#note-editor")) return;
    var status = e.detail.xhr.status;
    if (status === 409 || status === 400) { e.detail.shouldSwap = true; e.detail.isError = false; }
  });
})();
