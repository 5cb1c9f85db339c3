// Défi Famille: small behaviours that need a script. No inline handlers (the CSP forbids them).
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-print]");
    if (button) {
      window.print();
    }
  });

  // A request that could not reach the server: say so, in French, next to the page.
  function showOffline(show) {
    var banner = document.getElementById("network-status");
    if (banner) {
      banner.hidden = !show;
    }
  }
  document.addEventListener("htmx:sendError", function () { showOffline(true); });
  document.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.successful) {
      showOffline(false);
    }
  });
  window.addEventListener("online", function () { showOffline(false); });
  window.addEventListener("offline", function () { showOffline(true); });
})();
