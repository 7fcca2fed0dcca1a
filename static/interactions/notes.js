// Show saved times in the reader's own time zone (the server renders UTC as a fallback).
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
  document.addEventListener("DOMContentLoaded", function () { localize(document); });
  document.addEventListener("htmx:afterSettle", function (e) { localize(e.target); });
})();
