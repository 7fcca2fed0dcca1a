/* Pages that may fill a clinical strip: start Hint's SDK, which reports our height to Hint (a
 * denial, an expired session, the surface itself), and on the surface follow the chart. */
(function () {
  "use strict";
  var sdk = window.HintSDK;
  if (!sdk || typeof sdk.init !== "function") { return; }
  var el = document.getElementById("hint-surface");
  sdk.init(function () {
    if (!el) { return; }
    var patient = sdk.currentPatient;
    var nameEl = document.querySelector("[data-hint-patient-name]");
    if (patient && patient.name && nameEl && patient.id === el.dataset.patientId) {
      nameEl.textContent = patient.name;
    }
    if (typeof sdk.onCurrentPatientChanged !== "function") { return; }
    sdk.onCurrentPatientChanged(function (next) {
      if (!next || !next.id || next.id === el.dataset.patientId) { return; }
      // Reload this surface for the new patient; the session key stays in the URL.
      var url = new URL(window.location.href);
      url.searchParams.set("patient_id", next.id);
      window.location.replace(url.toString());
    });
  });
})();
