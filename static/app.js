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

  // No answer at all (no network, or too slow): what the form holds goes to the outbox, kept
  // on the phone, and is sent when the network returns.
  function noAnswer(event) {
    var element = event.detail.elt;
    var form = element && element.closest ? element.closest("form") : null;
    if (form && (form.hasAttribute("data-outbox") || form.hasAttribute("data-autosave"))) {
      keep(form);
    } else {
      banner(true, null);
    }
  }
  document.addEventListener("htmx:sendError", noAnswer);
  document.addEventListener("htmx:timeout", noAnswer);
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
    flush();
  });
  window.addEventListener("offline", function () {
    banner(true, null);
  });

  // The outbox: what was added or typed without network, kept in the phone's storage until
  // the server has it, through a closed tab or a restarted browser. Each add carries its
  // form's `outbox_key`, so that an add the server received but whose answer was lost is
  // added once (the server remembers the keys); an autosave is kept once per form (the
  // last values win). Items belong to the user who made them: another user logging in on the
  // same phone never sends them.
  var OUTBOX = "defi-outbox";
  var sending = false;

  // The logged-in user's id, CSRF token and whether its pages are kept offline (base.html).
  function meta(name) {
    var element = document.getElementById("session");
    return element ? element.getAttribute({ "defi-user": "data-user", "csrf-token": "data-csrf",
                                            "defi-offline": "data-offline" }[name]) : null;
  }

  function readOutbox() {
    try {
      return JSON.parse(window.localStorage.getItem(OUTBOX)) || [];
    } catch (error) {
      return [];
    }
  }

  function writeOutbox(items) {
    try {
      window.localStorage.setItem(OUTBOX, JSON.stringify(items));
    } catch (error) {
      // Storage full or refused (private browsing): the items stay in this page only.
    }
  }

  function newKey() {
    if (window.crypto && window.crypto.randomUUID) {
      return window.crypto.randomUUID();
    }
    return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 12);
  }

  // What the item is, for the "en attente d'envoi" list: "Achat · 23,40 · Supermarché".
  function describe(form) {
    var parts = [form.getAttribute("data-outbox") || form.getAttribute("data-outbox-title")];
    form.querySelectorAll("[data-outbox-label]").forEach(function (field) {
      var text = field.tagName === "SELECT" && field.selectedIndex >= 0
        ? field.options[field.selectedIndex].text : field.value;
      if (text) {
        parts.push(text);
      }
    });
    return parts.filter(Boolean).join(" · ");
  }

  function keep(form) {
    var user = meta("defi-user");
    var action = form.getAttribute("action");
    var fields = [];
    new FormData(form).forEach(function (value, name) {
      fields.push([name, String(value)]);
    });
    var items = readOutbox();
    if (form.hasAttribute("data-outbox")) {
      var key = (form.querySelector('[name="outbox_key"]') || {}).value || newKey();
      if (items.some(function (item) { return item.key === key; })) {
        // Never two adds under one key (the server would keep the first only).
        key = newKey();
        fields = fields.map(function (pair) {
          return pair[0] === "outbox_key" ? [pair[0], key] : pair;
        });
      }
      items.push({ key: key, user: user, action: action, fields: fields,
                   label: describe(form), at: Date.now() });
      // The form is ready for the next receipt, with a key of its own.
      form.reset();
      var keyField = form.querySelector('[name="outbox_key"]');
      if (keyField) {
        keyField.value = newKey();
      }
    } else {
      items = items.filter(function (item) { return item.key !== "autosave:" + action; });
      items.push({ key: "autosave:" + action, user: user, action: action, fields: fields,
                   label: form.getAttribute("data-outbox-title") || document.title, at: Date.now() });
    }
    writeOutbox(items);
    showOutbox();
  }

  function mine(item) {
    return item.user === meta("defi-user");
  }

  function showOutbox() {
    var box = document.getElementById("outbox");
    if (!box) {
      return;
    }
    var items = readOutbox().filter(mine);
    var list = box.querySelector("ul");
    list.textContent = "";
    items.forEach(function (item) {
      var line = document.createElement("li");
      var state = document.createElement("small");
      line.textContent = item.label + " ";
      state.textContent = item.refused
        ? box.getAttribute("data-refused") + " " + item.refused
        : box.getAttribute("data-waiting");
      line.appendChild(state);
      if (item.refused) {
        var remove = document.createElement("button");
        remove.type = "button";
        remove.className = "secondary small";
        remove.textContent = box.getAttribute("data-remove");
        remove.setAttribute("data-outbox-remove", item.key);
        line.appendChild(remove);
      }
      list.appendChild(line);
    });
    box.hidden = items.length === 0;
    if (items.length && navigator.onLine === false) {
      banner(true, null);
    } else if (!items.length && !Object.keys(pending).length) {
      banner(false);
    }
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-outbox-remove]");
    if (button) {
      var key = button.getAttribute("data-outbox-remove");
      writeOutbox(readOutbox().filter(function (item) { return item.key !== key; }));
      showOutbox();
    }
  });

  // Send one item; resolves to "sent", "refused: <reason>" or "wait" (no network, no server).
  // An autosave whose form is on the page is sent by htmx, as if typed again: the page shows
  // "Enregistré à …" and its figures; a failure puts it back in the outbox.
  function send(item) {
    var form = item.key.indexOf("autosave:") === 0 &&
      document.querySelector('form[data-autosave][action="' + item.action + '"]');
    if (form && window.htmx) {
      window.htmx.trigger(form, "submit");
      return Promise.resolve("resent");
    }
    var body = new URLSearchParams();
    item.fields.forEach(function (pair) {
      body.append(pair[0], pair[0] === "csrf_token" ? meta("csrf-token") || pair[1] : pair[1]);
    });
    return fetch(item.action, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "HX-Request": "true" },
    }).then(function (response) {
      // Not now: the server is down or busy, the session is gone (the login page), or the
      // page was too old (a new token comes with the next page): sent again later.
      var loggedOut = response.redirected && response.url.indexOf("/connexion") !== -1;
      if (response.status >= 500 || response.status === 429 || response.status === 400 ||
          loggedOut) {
        return "wait";
      }
      if (response.ok && (item.key.indexOf("autosave:") === 0 || response.headers.get("Defi-Added"))) {
        return "sent";
      }
      return response.text().then(function (text) {
        var page = new DOMParser().parseFromString(text, "text/html");
        var reason = null;
        [".field-error", ".error-page p", "#contenu .flash-error:not(#network-status)"].some(
          function (selector) {
            reason = page.querySelector(selector);
            return reason !== null;
          });
        return "refused:" + (reason ? reason.textContent.trim() : response.status);
      });
    }, function () {
      return "wait";
    });
  }

  function flush() {
    if (sending || navigator.onLine === false) {
      return;
    }
    var queue = readOutbox().filter(function (item) { return mine(item) && !item.refused; });
    if (!queue.length) {
      showOutbox();
      return;
    }
    sending = true;
    var sent = 0;
    var step = function (index) {
      if (index >= queue.length) {
        return Promise.resolve();
      }
      return send(queue[index]).then(function (outcome) {
        if (outcome === "wait") {
          return null;
        }
        var items = readOutbox();
        if (outcome === "sent" || outcome === "resent") {
          sent += outcome === "sent" ? 1 : 0;
          items = items.filter(function (item) { return item.key !== queue[index].key; });
        } else {
          items.forEach(function (item) {
            if (item.key === queue[index].key) {
              item.refused = outcome.slice("refused:".length);
            }
          });
        }
        writeOutbox(items);
        return step(index + 1);
      });
    };
    step(0).then(function () {
      sending = false;
      showOutbox();
      var section = document.getElementById("releve-section");
      if (sent && section && window.htmx) {
        window.htmx.ajax("GET", window.location.href, { target: "#releve-section",
                                                        select: "#releve-section", swap: "outerHTML" });
      }
    });
  }

  window.setInterval(function () {
    if (readOutbox().some(mine)) {
      flush();
    }
  }, 10000);

  // Another user on this phone, or a logout: the pages kept for offline use are not theirs.
  function forgetPages() {
    if (window.caches) {
      window.caches.delete("defi-pages-v1");
    }
  }
  document.addEventListener("submit", function (event) {
    if (event.target.matches && event.target.matches("form[action$='/deconnexion']")) {
      forgetPages();
    }
  }, true);

  function start() {
    var user = meta("defi-user");
    try {
      // Logged out (or timed out): the pages kept for offline use go; another user: the same.
      if (!user) {
        forgetPages();
        window.localStorage.removeItem("defi-user");
      } else if (window.localStorage.getItem("defi-user") !== user) {
        forgetPages();
        window.localStorage.setItem("defi-user", user);
      }
    } catch (error) {
      // No storage: nothing was kept either.
    }
    // A fresh key for every add form shown: a page opened again from the service worker's
    // cache holds the key it was served with, which an earlier add may have used already.
    document.querySelectorAll('form[data-outbox] [name="outbox_key"]').forEach(function (field) {
      field.value = newKey();
    });
    showOutbox();
    flush();
    if (user && navigator.serviceWorker && meta("defi-offline")) {
      navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () {
        // Without a service worker the pages need the network; the outbox still works.
      });
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
  // A boosted link or form swaps the whole body: the user may have changed (a login).
  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.detail.elt === document.body) {
      start();
    } else if (event.detail.elt.querySelectorAll) {
      event.detail.elt.querySelectorAll('form[data-outbox] [name="outbox_key"]').forEach(
        function (field) {
          field.value = newKey();
        });
    }
  });
})();
