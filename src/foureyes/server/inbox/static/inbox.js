// foureyes inbox: live updates and keyboard shortcuts. Everything works without this file; it
// only spares a reload and a few clicks.
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
    // Keep the reviewer's selection (the pending list's checkboxes) across the refresh.
    var checked = {};
    current.querySelectorAll("input.select:checked").forEach(function (box) {
      checked[box.value] = true;
    });
    var imported = document.importNode(fresh, true);
    imported.querySelectorAll("input.select").forEach(function (box) {
      box.checked = checked[box.value] === true;
    });
    // ... and the row the keyboard is on.
    var marked = current.querySelector("li.item[data-current]");
    var focused = marked !== null && marked.contains(document.activeElement);
    imported.querySelectorAll("li.item").forEach(function (row) {
      if (marked && row.getAttribute("data-call-id") === marked.getAttribute("data-call-id")) {
        row.setAttribute("data-current", "yes");
      }
    });
    current.replaceWith(imported);
    var refocus = focused ? imported.querySelector("li.item[data-current] a.title") : null;
    if (refocus) {
      refocus.focus();
    }
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

// Keyboard shortcuts (the list of them opens with "?"): they only press the page's own links,
// buttons and checkboxes, so every shortcut does what a click would.
(function () {
  "use strict";

  var help = document.getElementById("shortcuts");
  var current = null;

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("ul.items > li.item[data-url]"));
  }

  function mark(row) {
    rows().forEach(function (r) { r.removeAttribute("data-current"); });
    current = row ? row.getAttribute("data-call-id") : null;
    if (row) {
      row.setAttribute("data-current", "yes");
      var link = row.querySelector("a.title");
      if (link) {
        link.focus();
      }
    }
  }

  function currentRow() {
    var found = rows().filter(function (r) { return r.getAttribute("data-call-id") === current; });
    return found.length ? found[0] : null;
  }

  function move(step) {
    var all = rows();
    if (!all.length) {
      return;
    }
    var at = all.indexOf(currentRow());
    var next = at < 0 ? 0 : Math.min(all.length - 1, Math.max(0, at + step));
    mark(all[next]);
  }

  function press(selector, scope) {
    var target = (scope || document).querySelector(selector);
    if (target) {
      target.click();
      return true;
    }
    return false;
  }

  function toggleHelp(show) {
    if (help) {
      help.hidden = show === undefined ? !help.hidden : !show;
    }
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) {
      return;
    }
    var tag = event.target && event.target.tagName;
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (event.target && event.target.isContentEditable)) {
      if (event.key === "Escape") {
        event.target.blur();
      }
      return;
    }
    var row = currentRow();
    var handled = true;
    switch (event.key) {
      case "?": toggleHelp(); break;
      case "Escape": toggleHelp(false); break;
      case "j": move(1); break;
      case "k": move(-1); break;
      case "o":
      case "Enter":
        // Enter on a focused button or link does what it always does.
        if (event.key === "Enter" && event.target !== document.body && !(row && event.target === row.querySelector("a.title"))) {
          handled = false;
        } else if (row) {
          window.location.href = row.getAttribute("data-url");
        } else {
          handled = false;
        }
        break;
      case "a":
        handled = row ? press("button.row-approve", row) : press("#decision button.approve");
        break;
      case "r":
        if (row) {
          handled = press("button.row-reject", row);
        } else {
          var comment = document.getElementById("reject-comment");
          handled = comment !== null;
          if (comment) {
            comment.focus();
          }
        }
        break;
      case "e":
        // The arguments' editor, on a request that allows edits (a list row opens it there).
        var editor = document.getElementById("approve-args");
        if (editor) {
          editor.focus();
        } else if (row && row.hasAttribute("data-editable")) {
          window.location.href = row.getAttribute("data-url") + "#approve-args";
        } else {
          handled = false;
        }
        break;
      case "x":
        var box = row && row.querySelector("input.select");
        if (box) {
          box.checked = !box.checked;
        } else {
          handled = false;
        }
        break;
      case "A": handled = press("#approve-selected"); break;
      default: handled = false;
    }
    if (handled) {
      event.preventDefault();
    }
  });
})();

// Times that tick: how long each request has waited (data-since) and how long it has left
// (data-deadline), counted on once a second from the server's "now" (data-now on <body>), so a
// wrong clock on the reviewer's machine does not move them. The server renders the same text.
(function () {
  "use strict";

  var serverNow = Date.parse(document.body.getAttribute("data-now") || "");
  var skew = isNaN(serverNow) ? 0 : serverNow - Date.now();

  function span(seconds) {
    // The same words as the server's views.age.
    var s = Math.max(0, Math.floor(seconds));
    if (s < 60) { return s + " s"; }
    if (s < 3600) { return Math.floor(s / 60) + " min"; }
    if (s < 86400) { return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min"; }
    return Math.floor(s / 86400) + " d " + Math.floor((s % 86400) / 3600) + " h";
  }

  function tick() {
    var now = Date.now() + skew;
    document.querySelectorAll("time[data-since]").forEach(function (el) {
      var at = Date.parse(el.getAttribute("data-since"));
      if (!isNaN(at)) { el.textContent = span((now - at) / 1000); }
    });
    document.querySelectorAll("time[data-deadline]").forEach(function (el) {
      var at = Date.parse(el.getAttribute("data-deadline"));
      if (isNaN(at)) { return; }
      var left = (at - now) / 1000;
      el.textContent = left <= 0 ? "expired" : "in " + span(left);
      el.classList.toggle("expired", left <= 0);
      el.classList.toggle("soon", left > 0 && left < 300);
    });
  }

  tick();
  window.setInterval(tick, 1000);
})();
