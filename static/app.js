// Défi Famille: small behaviours that need a script. No inline handlers (the CSP forbids them).
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-print]")) {
      window.print();
    }
  });

  // Autosave that could not reach the server: say so in French and send again when the
  // network is back. The form is found again by its action, as swaps replace it.
  var pending = {};
  var retryTimer = null;

  function banner(show) {
    var element = document.getElementById("network-status");
    if (element) {
      element.hidden = !show;
    }
  }

  function retry() {
    Object.keys(pending).forEach(function (action) {
      var form = document.querySelector('form[data-autosave][action="' + action + '"]');
      delete pending[action];
      if (form && window.htmx) {
        window.htmx.trigger(form, "submit");
      }
    });
  }

  function scheduleRetry() {
    if (retryTimer === null) {
      retryTimer = window.setInterval(function () {
        if (navigator.onLine !== false && Object.keys(pending).length) {
          retry();
        }
      }, 5000);
    }
  }

  document.addEventListener("htmx:sendError", function (event) {
    var form = event.detail.elt.closest ? event.detail.elt.closest("form[data-autosave]") : null;
    if (form) {
      pending[form.getAttribute("action")] = true;
      scheduleRetry();
    }
    banner(true);
  });
  document.addEventListener("htmx:timeout", function (event) {
    var form = event.detail.elt.closest ? event.detail.elt.closest("form[data-autosave]") : null;
    if (form) {
      pending[form.getAttribute("action")] = true;
      scheduleRetry();
    }
    banner(true);
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.successful) {
      banner(Object.keys(pending).length > 0);
    }
  });
  // Typing while a save is on its way: the answer replaces the form (its inputs are kept),
  // and a save queued on the replaced form would be lost. Count the edits of each form and,
  // once an answer has come back, save again if there were edits after the request left.
  var edits = {};
  var sentAt = {};

  function autosaveForm(element) {
    return element && element.closest ? element.closest("form[data-autosave]") : null;
  }

  document.addEventListener("input", function (event) {
    var form = autosaveForm(event.target);
    if (form) {
      var action = form.getAttribute("action");
      edits[action] = (edits[action] || 0) + 1;
    }
  });
  document.addEventListener("change", function (event) {
    var form = autosaveForm(event.target);
    if (form) {
      var action = form.getAttribute("action");
      edits[action] = (edits[action] || 0) + 1;
    }
  });
  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = autosaveForm(event.detail.elt);
    if (form) {
      var action = form.getAttribute("action");
      sentAt[action] = edits[action] || 0;
    }
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = autosaveForm(event.detail.elt);
    if (!form || !event.detail.successful) {
      return;
    }
    var action = form.getAttribute("action");
    window.setTimeout(function () {
      if ((edits[action] || 0) > (sentAt[action] || 0)) {
        var current = document.querySelector('form[data-autosave][action="' + action + '"]');
        if (current && window.htmx) {
          window.htmx.trigger(current, "submit");
        }
      }
    }, 50);
  });

  window.addEventListener("online", function () {
    retry();
  });
  window.addEventListener("offline", function () {
    banner(true);
  });
})();
