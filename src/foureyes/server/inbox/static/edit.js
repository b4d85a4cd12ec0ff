// foureyes inbox: the editor of a request's arguments, on the item page of a pending request that
// allows edits. As the reviewer types it checks the JSON (saying where it breaks), keeps Approve
// disabled while it is not a JSON object, and shows what changed against the agent's arguments,
// key by key. Without this file the form works the same: the server checks the JSON when it is
// sent, and shows the change once decided.
//
// The agent's arguments come as the textarea's data-asked (its text is the reviewer's own after
// the server refused it); every value is put in the page as text (textContent), never as markup.
(function () {
  "use strict";

  var editor = document.getElementById("approve-args");
  if (!editor || !editor.form) {
    return;
  }
  var form = editor.form;
  var approve = form.querySelector("button.approve");
  var status = document.getElementById("edit-status");
  var tools = document.getElementById("edit-tools");
  var reset = document.getElementById("edit-reset");
  var diff = document.getElementById("edit-diff");
  var rows = diff && diff.querySelector("tbody");
  if (!approve || !status || !tools || !reset || !diff || !rows) {
    return;
  }
  var asked = editor.getAttribute("data-asked");
  if (asked === null) {
    asked = editor.defaultValue;
  }
  var original = parse(asked);
  if (original.problem) {
    return; // the server wrote it, so this does not happen; the plain form still works
  }
  var valid = true;
  var announceTimer = null;

  // The offset of the first character that makes ``text`` invalid JSON (RFC 8259), or -1. Only
  // used to say where: JSON.parse decides what is valid, and not every browser says where.
  function errorAt(text) {
    var i = 0;
    var n = text.length;
    var number = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

    function space() {
      while (i < n && " \t\n\r".indexOf(text.charAt(i)) >= 0) { i += 1; }
    }
    function fail() { throw { at: i }; }
    function expect(ch) {
      if (text.charAt(i) !== ch) { fail(); }
      i += 1;
    }
    function string() {
      expect("\"");
      while (i < n) {
        var code = text.charCodeAt(i);
        if (code === 34) { i += 1; return; }
        if (code < 32) { fail(); }
        if (code === 92) {
          i += 1;
          var esc = text.charAt(i);
          if (esc === "u") {
            if (!/^[0-9a-fA-F]{4}$/.test(text.substr(i + 1, 4))) { fail(); }
            i += 5;
          } else if ("\"\\/bfnrt".indexOf(esc) >= 0 && esc !== "") {
            i += 1;
          } else {
            fail();
          }
        } else {
          i += 1;
        }
      }
      fail();
    }
    function value() {
      space();
      var ch = text.charAt(i);
      if (ch === "{" || ch === "[") {
        var close = ch === "{" ? "}" : "]";
        i += 1;
        space();
        if (text.charAt(i) === close) { i += 1; return; }
        for (;;) {
          if (close === "}") {
            space();
            string();
            space();
            expect(":");
          }
          value();
          space();
          if (text.charAt(i) === ",") { i += 1; continue; }
          expect(close);
          return;
        }
      }
      if (ch === "\"") { string(); return; }
      var word = { t: "true", f: "false", n: "null" }[ch];
      if (word) {
        for (var w = 0; w < word.length; w += 1) { expect(word.charAt(w)); }
        return;
      }
      number.lastIndex = i;
      var found = number.exec(text);
      if (!found) { fail(); }
      i += found[0].length;
    }

    try {
      value();
      space();
      if (i < n) { fail(); }
      return -1;
    } catch (e) {
      return e && typeof e.at === "number" ? e.at : -1; // a stack overflow: no position
    }
  }

  function lineAndColumn(text, at) {
    var before = text.slice(0, at).split("\n");
    return { line: before.length, column: before[before.length - 1].length + 1 };
  }

  // { value } for a JSON object, else { problem } saying what is wrong and where.
  function parse(text) {
    var value;
    try {
      value = JSON.parse(text);
    } catch (e) {
      var detail = e && e.message ? String(e.message) : "";
      var at = errorAt(text);
      var given = /at position (\d+)/.exec(detail);
      if (at < 0 && given) { at = Number(given[1]); }
      // Where it breaks is said once, in words; the rest of the browser's message stays.
      detail = detail.replace(/,? *(in JSON )?at position \d+( \(line \d+ column \d+\))?/, "")
        .replace(/, ".*" is not valid JSON$/, "");
      var where = "";
      if (at >= 0 && at >= text.length) {
        where = " (it ends too early: a string, [ or { left open?)";
      } else if (at >= 0) {
        var place = lineAndColumn(text, at);
        where = " at line " + place.line + ", column " + place.column;
      }
      return { problem: "Not valid JSON" + where + (detail ? ": " + detail : ""), at: at };
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      return { problem: "Not an object: the arguments must be a JSON object of the arguments by name", at: -1 };
    }
    return { value: value };
  }

  function pretty(value) {
    return JSON.stringify(value, null, 2);
  }

  // Per top-level key, in the order the server's own diff uses: changed, removed, added. Values
  // are compared as the browser reads them (a number beyond double precision may differ on the
  // server only); the server's diff after the decision is the record.
  function changes(asked, edited) {
    var found = [];
    Object.keys(asked).forEach(function (key) {
      if (Object.prototype.hasOwnProperty.call(edited, key)) {
        var before = pretty(asked[key]);
        var after = pretty(edited[key]);
        if (before !== after) { found.push({ key: key, kind: "changed", before: before, after: after }); }
      }
    });
    Object.keys(asked).forEach(function (key) {
      if (!Object.prototype.hasOwnProperty.call(edited, key)) {
        found.push({ key: key, kind: "removed", before: pretty(asked[key]), after: null });
      }
    });
    Object.keys(edited).forEach(function (key) {
      if (!Object.prototype.hasOwnProperty.call(asked, key)) {
        found.push({ key: key, kind: "added", before: null, after: pretty(edited[key]) });
      }
    });
    return found;
  }

  // "2 arguments changed, 1 removed"
  function counted(found) {
    var parts = [];
    ["changed", "removed", "added"].forEach(function (kind) {
      var n = found.filter(function (c) { return c.kind === kind; }).length;
      if (n) {
        parts.push(parts.length ? n + " " + kind : n + " argument" + (n === 1 ? " " : "s ") + kind);
      }
    });
    return parts.join(", ");
  }

  function element(tag, className, text) {
    var el = document.createElement(tag);
    if (className) { el.className = className; }
    if (text !== undefined) { el.textContent = text; }
    return el;
  }

  function cell(text, className, missing) {
    var td = element("td");
    td.appendChild(text === null ? element("em", "", missing) : element("pre", "json " + className, text));
    return td;
  }

  function showDiff(found) {
    while (rows.firstChild) { rows.removeChild(rows.firstChild); }
    found.forEach(function (c) {
      var tr = element("tr", c.kind);
      tr.setAttribute("data-key", c.key);
      var head = element("th");
      head.setAttribute("scope", "row");
      head.appendChild(element("code", "", c.key));
      head.appendChild(document.createTextNode(" "));
      head.appendChild(element("span", "change " + c.kind, c.kind));
      tr.appendChild(head);
      tr.appendChild(cell(c.before, "removed", "(added)"));
      tr.appendChild(cell(c.after, "added", "(removed)"));
      rows.appendChild(tr);
    });
    diff.hidden = found.length === 0;
  }

  function say(text, problem, now) {
    // The message changes once the reviewer pauses, so it is not read out at every key.
    function show() {
      status.textContent = text;
      status.classList.toggle("error", problem);
      status.classList.toggle("ok", !problem);
    }
    window.clearTimeout(announceTimer);
    if (now) {
      show();
    } else {
      announceTimer = window.setTimeout(show, 250);
    }
  }

  function update(now) {
    var text = editor.value;
    var found;
    var problem = false;
    var message;
    if (!text.trim()) {
      // An empty field approves the arguments as asked (the server reads it so).
      found = [];
      message = "Empty: Approve approves the agent's arguments as asked.";
    } else {
      var parsed = parse(text);
      if (parsed.problem) {
        problem = true;
        message = parsed.problem + ". Approve is disabled until it is valid.";
      } else {
        found = changes(original.value, parsed.value);
        message = found.length === 0
          ? "Valid JSON, no changes: Approve approves the arguments as asked."
          : "Valid JSON: " + counted(found) + " (see below).";
      }
    }
    valid = !problem;
    approve.disabled = problem;
    if (problem) {
      editor.setAttribute("aria-invalid", "true");
      diff.hidden = true; // rather than a stale diff of the last valid text
    } else {
      editor.removeAttribute("aria-invalid");
      showDiff(found);
    }
    reset.disabled = text === asked;
    say(message, problem, now === true);
  }

  reset.addEventListener("click", function () {
    editor.value = asked;
    update(true);
    editor.focus();
  });
  editor.addEventListener("input", function () { update(false); });

  // Never send what cannot be approved (a submit by another script, or with the button enabled
  // by hand): say why and go back to the editor. Listening on the document in the capture phase
  // runs before any handler of the form itself, so the passkey step-up never starts for it.
  document.addEventListener("submit", function (event) {
    if (event.target !== form) { return; }
    var submitter = event.submitter;
    if (submitter && submitter.value !== "approve") { return; }
    update(true);
    if (!valid) {
      event.preventDefault();
      event.stopImmediatePropagation();
      window.clearTimeout(announceTimer);
      status.textContent = parse(editor.value).problem + ". Nothing was sent: correct it, or Reset.";
      editor.focus();
    }
  }, true);

  tools.hidden = false;
  status.hidden = false;
  editor.setAttribute("aria-describedby", status.id);
  update(true);
  if (window.location.hash === "#" + editor.id) {
    editor.focus(); // opened from the list with the "e" shortcut
  }
})();
