// foureyes inbox: the service worker (installable inbox) and the switch for phone notifications.
// Without this file, or in a browser without Web Push, the switch stays hidden and nothing else
// changes.
(function () {
  "use strict";

  if (!("serviceWorker" in navigator)) {
    return;
  }
  var registered = navigator.serviceWorker.register("/inbox/sw.js", { scope: "/inbox" });
  registered.then(function () {
    document.documentElement.setAttribute("data-sw", "registered");
  }).catch(function () { /* not a secure context (plain http on another host): no app, no push */ });

  var box = document.getElementById("push-switch");
  if (!box || !("PushManager" in window) || !("Notification" in window)) {
    return;
  }
  var button = document.getElementById("push-toggle");
  var status = document.getElementById("push-status");
  var on = false;

  function keyBytes(text) {
    var base64 = (text + "===".slice((text.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = window.atob(base64);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) {
      bytes[i] = raw.charCodeAt(i);
    }
    return bytes;
  }

  function sameKey(subscription, wanted) {
    var given = subscription.options && subscription.options.applicationServerKey;
    if (!given) {
      return true;
    }
    var bytes = new Uint8Array(given);
    if (bytes.length !== wanted.length) {
      return false;
    }
    for (var i = 0; i < bytes.length; i++) {
      if (bytes[i] !== wanted[i]) {
        return false;
      }
    }
    return true;
  }

  function show(isOn, note) {
    on = isOn;
    button.textContent = isOn ? "Stop notifying me on this device" : "Notify me on this device";
    button.setAttribute("aria-pressed", isOn ? "true" : "false");
    status.textContent = note || (isOn ? "Notifications are on for this project." : "");
  }

  function post(action, subscription) {
    var json = subscription.toJSON();
    var form = new URLSearchParams();
    form.set("csrf", box.getAttribute("data-csrf"));
    form.set("action", action);
    form.set("endpoint", subscription.endpoint);
    form.set("p256dh", (json.keys && json.keys.p256dh) || "");
    form.set("auth", (json.keys && json.keys.auth) || "");
    return fetch(box.getAttribute("data-push"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "Accept": "application/json" },
      body: form,
    }).then(function (response) {
      if (!response.ok) {
        throw new Error("the server refused (" + response.status + ")");
      }
      return response.json();
    });
  }

  function subscription(registration, create) {
    var key = keyBytes(box.getAttribute("data-key"));
    return registration.pushManager.getSubscription().then(function (found) {
      if (found && !sameKey(found, key)) {
        // subscribed under another server key: that subscription can no longer be reached
        return found.unsubscribe().then(function () { return subscription(registration, create); });
      }
      if (found || !create) {
        return found;
      }
      return registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
    });
  }

  function turnOn(registration) {
    return Notification.requestPermission().then(function (permission) {
      if (permission !== "granted") {
        show(false, "Notifications are blocked for this site in the browser's settings.");
        return null;
      }
      return subscription(registration, true).then(function (found) {
        return post("on", found).then(function () { show(true); });
      });
    });
  }

  function turnOff(registration) {
    return subscription(registration, false).then(function (found) {
      if (!found) {
        show(false);
        return null;
      }
      return post("off", found).then(function (answer) {
        show(false, "Notifications are off for this project.");
        // no project notifies this browser any more: let the push service forget it too
        return answer.left === 0 ? found.unsubscribe() : null;
      });
    });
  }

  registered.then(function () {
    return navigator.serviceWorker.ready;
  }).then(function (registration) {
    box.hidden = false;
    button.addEventListener("click", function () {
      button.disabled = true;
      (on ? turnOff(registration) : turnOn(registration))
        .catch(function (error) { status.textContent = "Could not change notifications: " + error.message; })
        .then(function () { button.disabled = false; });
    });
    if (Notification.permission === "denied") {
      show(false, "Notifications are blocked for this site in the browser's settings.");
      return null;
    }
    return subscription(registration, false).then(function (found) {
      if (!found) {
        show(false);
        return null;
      }
      return post("check", found).then(function (answer) { show(answer.on === true); });
    });
  }).catch(function () { /* no service worker: no switch */ });
})();
