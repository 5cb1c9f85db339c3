// Défi Famille: small behaviours that need a script. No inline handlers (the CSP forbids them).
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-print]")) {
      window.print();
    }
  });

  // Autosave that could not reach the server, or that the server could not save (503: its
  // database did not answer; 502/504: the proxy found no server): say so in French and send
  // again. The form is found again by its action, as swaps replace it; htmx swaps no 5xx
  // answer, so the inputs stay as they were typed.
  var pending = {};
  var retryTimer = null;
  var RETRIED = { 502: true, 503: true, 504: true };

  // `message`: a text to show; null: the page's own "no network" text; undefined: unchanged.
  function banner(show, message) {
    var element = document.getElementById("network-status");
    if (!element) {
      return;
    }
    if (element.getAttribute("data-offline") === null) {
      element.setAttribute("data-offline", element.textContent);
    }
    if (message !== undefined) {
      element.textContent = message || element.getAttribute("data-offline");
    }
    element.hidden = !show;
  }

  // The French sentence of our 503 page (errors/unavailable.html), if that is the answer:
  // the one that says a save will be sent again, or the page's own.
  function serverMessage(xhr, retried) {
    var page = new DOMParser().parseFromString(xhr.responseText || "", "text/html");
    var article = page.querySelector("[data-retry-message]");
    if (!article) {
      return null;
    }
    if (retried) {
      return article.getAttribute("data-retry-message");
    }
    return article.querySelector("p").textContent;
  }

  // The sentence of our French error page (errors/fragment.html), or the page's general one.
  function errorMessage(xhr) {
    var page = new DOMParser().parseFromString(xhr.responseText || "", "text/html");
    var text = page.querySelector(".error-page p");
    var element = document.getElementById("network-status");
    return text ? text.textContent : element && element.getAttribute("data-refused");
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

  function keepForRetry(element) {
    var form = element.closest ? element.closest("form[data-autosave]") : null;
    if (form) {
      pending[form.getAttribute("action")] = true;
      scheduleRetry();
    }
    return form;
  }

  document.addEventListener("htmx:sendError", function (event) {
    keepForRetry(event.detail.elt);
    banner(true, null);
  });
  document.addEventListener("htmx:timeout", function (event) {
    keepForRetry(event.detail.elt);
    banner(true, null);
  });
  // A link or a form sent through hx-boost stays as it is too (a save still waiting on this
  // page would be lost with it): the message says to try again.
  // Any other refusal (400: nothing saved, the page was too old; 403, 404, 413, 429) is not
  // swapped either: its French sentence is shown in the banner, so that it is never silent.
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    if (RETRIED[xhr.status]) {
      var form = keepForRetry(event.detail.elt);
      banner(true, serverMessage(xhr, form !== null));
    } else if (xhr.status >= 400 && xhr.status < 500) {
      banner(true, errorMessage(xhr));
    }
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
    banner(true, null);
  });
})();
