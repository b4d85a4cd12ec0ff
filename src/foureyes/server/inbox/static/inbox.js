// foureyes inbox: live updates. Everything works without this file; it only spares a reload.
//
// The page names a Server-Sent Events stream (data-live) and the region to refresh
// (data-live-region). On every "changed" event the page is fetched again from the server and
// that region is swapped for the fresh one: the HTML comes escaped from the server's templates,
// and nothing from the event itself is ever put in the page.
(function () {
  "use strict";

  var main = document.querySelector("[data-live]");
  if (!main || typeof window.EventSource !== "function" || typeof window.fetch !== "function") {
    return;
  }
  var regionId = main.getAttribute("data-live-region");
  var running = false;
  var again = false;

  function swap(html) {
    var fresh = new DOMParser().parseFromString(html, "text/html").getElementById(regionId);
    var current = document.getElementById(regionId);
    if (!fresh || !current) {
      return;
    }
    // A region that says what state it shows (an item's decision) is replaced only when that
    // state changed, so a reviewer's half-typed comment is never thrown away for nothing.
    var state = current.getAttribute("data-state");
    if (state !== null && state === fresh.getAttribute("data-state")) {
      return;
    }
    current.replaceWith(document.importNode(fresh, true));
  }

  function refresh() {
    if (running) {
      again = true;
      return;
    }
    running = true;
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (html !== null) {
          swap(html);
        }
      })
      .catch(function () { /* the next event tries again */ })
      .then(function () {
        running = false;
        if (again) {
          again = false;
          refresh();
        }
      });
  }

  var source = new EventSource(main.getAttribute("data-live"));
  source.addEventListener("changed", refresh);
  // Access to this project ended (removed, signed out, session expired): stop listening, and
  // load the page again so it says so (the sign-in page, or "not found").
  source.addEventListener("revoked", function () {
    source.close();
    window.location.reload();
  });
  // Whatever changed between rendering this page (or a dropped stream) and this connection
  // sent no event to us: look once more.
  source.addEventListener("open", function () {
    refresh();
    document.body.setAttribute("data-live-connected", "yes");
  });
})();
