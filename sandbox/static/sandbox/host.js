// The sandbox host page: switchers, the browser-sent handshake (localhost mode), and the host
// side of the SDK (postMessage with the app's frame).
(function () {
  "use strict";
  document.querySelectorAll("select[data-autosubmit]").forEach(function (el) {
    el.addEventListener("change", function () { el.form.submit(); });
  });

  var frame = document.querySelector("iframe.app-frame");
  if (!frame) return;
  var box = frame.closest(".frame-box");
  var errorBox = box.querySelector("[data-frame-error]");
  var ctxEl = document.getElementById("sdk-context");
  var context = ctxEl ? JSON.parse(ctxEl.textContent) : {};
  context.queryParams = {};
  context.fragment = "";

  function showError(text) { errorBox.textContent = text; errorBox.hidden = false; }
  function appOrigin() { try { return new URL(frame.src).origin; } catch (e) { return null; } }
  function post(message) {
    var origin = appOrigin();
    if (!origin || !frame.contentWindow) return;
    message.source = "hint-host";
    frame.contentWindow.postMessage(message, origin);
  }

  // Localhost mode: the browser sends the signed handshake itself; the app must answer CORS.
  var hs = document.getElementById("browser-handshake");
  if (hs) {
    var spec = JSON.parse(hs.textContent);
    fetch(spec.handshake_url, {
      method: "POST", mode: "cors", credentials: "omit",
      headers: { "Content-Type": "application/json", "X-Hint-Signature": spec.signature },
      body: spec.body
    }).then(function (r) {
      if (!r.ok) throw new Error("The app answered " + r.status + " to the handshake.");
      return r.json();
    }).then(function (data) {
      if (!data || !data.session_key) throw new Error("The app's answer has no session_key.");
      frame.src = spec.surface_url + "?session_key=" + encodeURIComponent(data.session_key);
    }).catch(function (err) {
      showError("The app did not open (localhost mode). " + (err && err.message && err.message.indexOf("answered") >= 0 ? err.message :
        "The browser could not POST to " + spec.handshake_url + ": the app is not running, or it did not allow this origin (CORS)."));
    });
  }

  function sendInit() {
    post({ type: "init", user: context.user, currentPatient: context.currentPatient,
           interaction: context.interaction, queryParams: context.queryParams, fragment: context.fragment });
  }
  // The frame may have loaded (and said "ready") before this script ran: greet it anyway.
  frame.addEventListener("load", sendInit);
  sendInit();

  window.addEventListener("message", function (event) {
    if (event.source !== frame.contentWindow || event.origin !== appOrigin()) return;
    var m = event.data;
    if (!m || m.source !== "hint-sdk") return;
    if (m.type === "ready") {
      sendInit();
    } else if (m.type === "height" && frame.hasAttribute("data-clinical")) {
      var h = Math.max(80, Math.min(5000, parseInt(m.height, 10) || 0));
      frame.style.height = h + "px";
    } else if (m.type === "close") {
      frame.style.display = "none";
      showError("The app closed itself. Reload the page to open it again.");
      errorBox.className = "notice info";
    } else if (m.type === "updateQueryParams") {
      context.queryParams = m.queryParams || {};
      post({ type: "queryParamsChanged", queryParams: context.queryParams });
    } else if (m.type === "updateFragment") {
      context.fragment = String(m.fragment || "");
      post({ type: "fragmentChanged", fragment: context.fragment });
    }
  });

  // Switching the patient in the host fires HintSDK.onCurrentPatientChanged inside the frame.
  var picker = document.querySelector("select[data-sdk-patient]");
  if (picker) {
    picker.addEventListener("change", function () {
      var opt = picker.options[picker.selectedIndex];
      context.currentPatient = { id: opt.value, name: opt.getAttribute("data-name") };
      post({ type: "currentPatientChanged", currentPatient: context.currentPatient });
    });
  }
})();
