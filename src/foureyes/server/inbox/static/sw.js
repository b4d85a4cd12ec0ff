// foureyes inbox service worker: makes the inbox installable, shows the server's push messages
// and opens the request's page when one is clicked. It caches nothing: the inbox's pages show
// pending requests and are never stored.
"use strict";

var FALLBACK_TITLE = "foureyes: a request is waiting";

self.addEventListener("install", function () {
  self.skipWaiting();
});

self.addEventListener("activate", function (event) {
  event.waitUntil(self.clients.claim());
});

// Only pages of this inbox are ever opened, whatever a message says.
function inboxUrl(path) {
  try {
    var url = new URL(path, self.location.origin);
    if (url.origin === self.location.origin && url.pathname.indexOf("/inbox/") === 0) {
      return url.href;
    }
  } catch (e) { /* not a URL: the inbox's front page instead */ }
  return new URL("/inbox", self.location.origin).href;
}

function text(value, fallback) {
  return typeof value === "string" && value ? value : fallback;
}

self.addEventListener("push", function (event) {
  var message = {};
  try {
    message = event.data ? event.data.json() : {};
  } catch (e) {
    message = {};
  }
  var data = message && typeof message.data === "object" && message.data ? message.data : {};
  var options = {
    body: text(message.body, ""),
    tag: text(message.tag, "foureyes"),
    renotify: true,
    icon: "/inbox/static/favicon.svg",
    data: { url: inboxUrl(data.url) },
  };
  event.waitUntil(self.registration.showNotification(text(message.title, FALLBACK_TITLE), options));
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var target = inboxUrl(event.notification.data && event.notification.data.url);
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (windows) {
      for (var i = 0; i < windows.length; i++) {
        if (windows[i].url === target && "focus" in windows[i]) {
          return windows[i].focus();
        }
      }
      return self.clients.openWindow(target);
    })
  );
});
