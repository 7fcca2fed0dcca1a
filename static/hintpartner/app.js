// Small behaviours every page may use, kept out of the templates so the Content-Security-Policy
// needs no 'unsafe-inline': a progress bar's width (data-percent), a confirmation before a form
// is sent (data-confirm), and a select that submits its form when changed (data-autosubmit).
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
  document.addEventListener("change", function (e) {
    var el = e.target;
    if (el.form && el.matches && el.matches("[data-autosubmit]")) el.form.submit();
  });
})();
