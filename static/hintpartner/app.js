// Small behaviours every page may use, kept out of the templates so the Content-Security-Policy
// needs no 'unsafe-inline': a progress bar's width (data-percent), a confirmation before a form
// is sent (data-confirm), a select that submits its form when changed (data-autosubmit), and a
// submit button that shows it is working (data-working="Saving…": disabled, its words changed).
(function () {
  "use strict";
  function widths(root) {
    var bars = root.querySelectorAll ? Array.prototype.slice.call(root.querySelectorAll("[data-percent]")) : [];
    if (root.matches && root.matches("[data-percent]")) bars.push(root);
    bars.forEach(function (el) {
      var pct = Math.max(0, Math.min(100, parseFloat(el.dataset.percent) || 0));
      el.style.width = pct + "%";  // CSSOM, not a style attribute: allowed by style-src 'self'
    });
  }
  document.addEventListener("DOMContentLoaded", function () { widths(document); });
  document.addEventListener("htmx:load", function (e) { widths(e.target); });
  document.addEventListener("submit", function (e) {
    var question = e.target.dataset && e.target.dataset.confirm;
    if (question && !window.confirm(question)) e.preventDefault();
  });
  // Registered after the confirmation, so a cancelled form is left alone. A second click would
  // send the form twice; the disabled button says the first one is on its way.
  document.addEventListener("submit", function (e) {
    if (e.defaultPrevented || !e.target.querySelectorAll) return;
    e.target.querySelectorAll("button[data-working]").forEach(function (button) {
      button.dataset.idle = button.textContent;
      button.textContent = button.dataset.working;
      button.setAttribute("aria-busy", "true");
      // Disabled once the form is on its way (a disabled submitter is left out of the form data).
      window.setTimeout(function () { button.disabled = true; }, 0);
    });
  });
  // Back to a page kept by the browser's cache: its buttons work again.
  window.addEventListener("pageshow", function (e) {
    if (!e.persisted) return;
    document.querySelectorAll("button[data-working][aria-busy]").forEach(function (button) {
      button.disabled = false;
      button.textContent = button.dataset.idle || button.textContent;
      button.removeAttribute("aria-busy");
    });
  });
  document.addEventListener("change", function (e) {
    var el = e.target;
    if (el.form && el.matches && el.matches("[data-autosubmit]")) el.form.submit();
  });
})();
