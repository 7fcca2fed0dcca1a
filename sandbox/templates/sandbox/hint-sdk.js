/* Hint Marketplace JS SDK, as imitated by the hintpartner sandbox.
 * HintSDK.init(cb), .user, .currentPatient, .interaction, .onCurrentPatientChanged(cb),
 * .close(), .onClose(cb), .queryParams / .updateQueryParams / .onQueryParamsChanged,
 * .fragment / .updateFragment / .onFragmentChanged; reports the page height to the host. */
(function () {
  "use strict";
  if (window.HintSDK) return;
  var parentWin = window.parent !== window ? window.parent : null;
  var state = { user: null, currentPatient: null, interaction: null, queryParams: {}, fragment: "" };
  var ready = false;
  var hooks = { init: [], patient: [], close: [], query: [], fragment: [] };

  function send(type, data) {
    if (!parentWin) return;
    var message = { source: "hint-sdk", type: type };
    for (var k in data || {}) message[k] = data[k];
    // Nothing private goes up: heights, readiness and the app's own query/fragment.
    parentWin.postMessage(message, "*");
  }
  function fire(list, value) {
    list.slice().forEach(function (cb) { try { cb(value); } catch (e) { setTimeout(function () { throw e; }); } });
  }

  window.addEventListener("message", function (event) {
    if (!parentWin || event.source !== parentWin) return;
    var m = event.data;
    if (!m || m.source !== "hint-host") return;
    if (m.type === "init") {
      state.user = m.user || null;
      state.currentPatient = m.currentPatient || null;
      state.interaction = m.interaction || null;
      state.queryParams = m.queryParams || {};
      state.fragment = m.fragment || "";
      if (!ready) { ready = true; fire(hooks.init, SDK); hooks.init = []; }
      lastHeight = 0;  // the host may have missed earlier reports: send the height again
      reportHeight();
    } else if (m.type === "currentPatientChanged") {
      state.currentPatient = m.currentPatient || null;
      fire(hooks.patient, state.currentPatient);
    } else if (m.type === "close") {
      fire(hooks.close);
    } else if (m.type === "queryParamsChanged") {
      state.queryParams = m.queryParams || {};
      fire(hooks.query, state.queryParams);
    } else if (m.type === "fragmentChanged") {
      state.fragment = m.fragment || "";
      fire(hooks.fragment, state.fragment);
    }
  });

  var lastHeight = 0;
  function reportHeight() {
    var body = document.body;
    if (!body) return;
    var h = Math.ceil(Math.max(body.scrollHeight, body.getBoundingClientRect().height));
    if (h && h !== lastHeight) { lastHeight = h; send("height", { height: h }); }
  }
  function watch() {
    reportHeight();
    if (window.ResizeObserver && document.body) new ResizeObserver(reportHeight).observe(document.body);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", watch); else watch();
  window.addEventListener("load", reportHeight);

  var SDK = {
    init: function (callback) {
      if (typeof callback === "function") { if (ready) callback(SDK); else hooks.init.push(callback); }
      send("ready");
      return SDK;
    },
    get user() { return state.user; },
    get currentPatient() { return state.currentPatient; },
    get interaction() { return state.interaction; },
    get queryParams() { return state.queryParams; },
    get fragment() { return state.fragment; },
    onCurrentPatientChanged: function (cb) { hooks.patient.push(cb); },
    onClose: function (cb) { hooks.close.push(cb); },
    close: function () { send("close"); },
    updateQueryParams: function (params) { send("updateQueryParams", { queryParams: params || {} }); },
    onQueryParamsChanged: function (cb) { hooks.query.push(cb); },
    updateFragment: function (fragment) { send("updateFragment", { fragment: String(fragment || "") }); },
    onFragmentChanged: function (cb) { hooks.fragment.push(cb); },
    reportHeight: reportHeight
  };
  window.HintSDK = SDK;
  send("ready");
})();
