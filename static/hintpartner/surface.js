/* Clinical surfaces: start Hint's SDK (it reports our height to Hint) and follow the chart. */
(function () {
  "use strict";
  var el = document.getElementById("hint-surface");
  if (!el || !window.HintSDK) { return; }
  window.HintSDK.init(function () {
    var patient = window.HintSDK.currentPatient;
    var nameEl = document.querySelector("[data-hint-patient-name]");
    if (patient && patient.name && nameEl && patient.id === el.dataset.patientId) {
      nameEl.textContent = patient.name;
    }
    if (typeof window.HintSDK.onCurrentPatientChanged !== "function") { return; }
    window.HintSDK.onCurrentPatientChanged(function (next) {
      if (!next || !next.id || next.id === el.dataset.patientId) { return; }
      // Reload this surface for the new patient; the session key stays in the URL.
      var url = new URL(window.location.href);
      url.searchParams.set("patient_id", next.id);
      window.location.replace(url.toString());
    });
  });
})();
