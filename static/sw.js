// Défi Famille's service worker: the foyer's relevé pages open without network once visited.
//
// Pages under /collecte/ and the static files are fetched from the network first and kept in
// the cache; without network the kept copy is served, or a short French page when the page
// was never opened on this phone. Writes (POST) never pass through here: what is added
// offline waits in the page's outbox (app.js) and is sent when the network returns.
// Only a foyer's own pages are kept, never a referent's view of the foyers it accompanies;
// app.js empties the pages' cache at logout, on any page without a logged-in user (a session
// that timed out) and when another user logs in.
"use strict";

var PAGES = "defi-pages-v1";
var ASSETS = "defi-assets-v1";
var OFFLINE_PAGE =
  '<!doctype html><html lang="fr"><head><meta charset="utf-8">' +
  '<meta name="viewport" content="width=device-width, initial-scale=1">' +
  "<title>Pas de connexion · Défi Famille</title></head><body><main>" +
  "<h1>Pas de connexion</h1><p>Cette page n\u2019a pas encore été ouverte sur ce téléphone\u00a0: " +
  "elle s\u2019affichera au retour du réseau. Ce que vous avez déjà saisi reste gardé " +
  "sur le téléphone.</p><p><a href=\"/collecte/\">Ma collecte</a></p></main></body></html>";

self.addEventListener("install", function () {
  self.skipWaiting();
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches
      .keys()
      .then(function (keys) {
        return Promise.all(
          keys
            .filter(function (key) {
              return key !== PAGES && key !== ASSETS;
            })
            .map(function (key) {
              return caches.delete(key);
            })
        );
      })
      .then(function () {
        return self.clients.claim();
      })
  );
});

// A whole page: a navigation, or a link followed through htmx's boost (a fragment asked by
// htmx is not a page, and is never kept under the page's address).
function isWholePage(request) {
  return (
    request.mode === "navigate" ||
    request.headers.get("HX-Boosted") === "true" ||
    request.headers.get("HX-Request") !== "true"
  );
}

function networkFirst(request, cacheName, keep) {
  return fetch(request)
    .then(function (response) {
      if (keep && response.ok && !response.redirected) {
        var copy = response.clone();
        caches.open(cacheName).then(function (cache) {
          cache.put(request.url, copy);
        });
      }
      return response;
    })
    .catch(function (error) {
      return caches.open(cacheName).then(function (cache) {
        return cache.match(request.url, { ignoreVary: true }).then(function (kept) {
          if (kept) {
            return kept;
          }
          if (cacheName === PAGES) {
            return new Response(OFFLINE_PAGE, {
              status: 503,
              headers: { "Content-Type": "text/html; charset=utf-8" },
            });
          }
          throw error;
        });
      });
    });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") {
    return;
  }
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) {
    return;
  }
  var path;
  try {
    path = decodeURIComponent(url.pathname); // "/collecte/%66oyer/…" is "/collecte/foyer/…"
  } catch (error) {
    return;
  }
  if (path.indexOf("/static/") === 0) {
    event.respondWith(networkFirst(request, ASSETS, true));
  } else if (
    path.indexOf("/collecte/") === 0 &&
    path.indexOf("/collecte/foyer/") !== 0 && // a referent's foyers: never kept
    isWholePage(request)
  ) {
    var html = (request.headers.get("Accept") || "").indexOf("text/html") !== -1;
    var keep = html || request.mode === "navigate" || request.headers.get("HX-Boosted") === "true";
    event.respondWith(networkFirst(request, PAGES, keep));
  }
});
