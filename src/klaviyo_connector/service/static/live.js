// Live updates without reloading: queued and running rows of the run history
// are redrawn from /api/runs/{id} once a second; when one ends, the parts of the
// page marked data-section (health badge, next sync, chart, run history, home
// cards) are fetched again from the page named by <body data-live> and swapped
// in. Forms are never replaced, so nothing the user is typing is lost.
(function () {
  "use strict";
  var ACTIVE = ["queued", "running"];
  var source = document.body.dataset.live;
  var watching = {};
  var nextTimer = null;
  var pastTries = 0;

  function text(tag, value, cls) {
    var el = document.createElement(tag);
    el.textContent = value;
    if (cls) { el.className = cls; }
    return el;
  }

  function count(n) { return Number(n || 0).toLocaleString("en-US"); }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) { return "—"; }
    var whole = Math.round(seconds);
    var minutes = Math.floor(whole / 60);
    return minutes ? minutes + " min " + (whole % 60) + " s" : seconds.toFixed(1) + " s";
  }

  function drawTables(cell, run) {
    cell.replaceChildren();
    Object.keys(run.tables).forEach(function (name) {
      var t = run.tables[name];
      var row = text("div", name + ": ", "table-row" + (t.stopped ? " stopped" : t.error ? " failed" : ""));
      row.dataset.table = name;
      if (t.stopped && !t.rows) {
        row.append("not run");
      } else {
        row.appendChild(text("b", count(t.rows)));
        if (t.stopped) { row.append(", stopped"); }
      }
      if (run.status === "running" && !t.done) { row.appendChild(document.createTextNode(" …")); }
      if (t.warnings && t.warnings.length) {
        var mark = text("span", "⚠ warning", "warning-mark");
        mark.title = t.warnings.join(" ");
        row.append(" ", mark);
      }
      // Why a table's numbers stand still: Klaviyo's rate limit, or a retry.
      if (run.status === "running" && !t.done && t.note) {
        row.appendChild(text("small", t.note, "wait-note"));
      }
      cell.appendChild(row);
    });
  }

  function drawWindow(cell, run) {
    var small = document.createElement("small");
    run.window_label.forEach(function (line, n) {
      if (n) { small.appendChild(document.createElement("br")); }
      small.append(line);
    });
    cell.replaceChildren(small);
  }

  function drawProblem(cell, run) {
    cell.replaceChildren();
    if (run.error) { cell.appendChild(text("p", run.error, "error")); }
    if (run.fix) { cell.appendChild(text("p", run.fix, "fix")); }
    Object.keys(run.tables).forEach(function (name) {
      var t = run.tables[name];
      if (!t.error || t.stopped || !run.error || run.error.indexOf(name + ":") === 0) { return; }
      cell.appendChild(text("p", name + ": " + t.error, "error"));
      if (t.fix) { cell.appendChild(text("p", t.fix, "fix")); }
    });
    (run.warnings || []).forEach(function (warning) {
      cell.appendChild(text("p", warning, "warning"));
    });
  }

  function draw(tr, run) {
    var status = tr.querySelector('[data-field="status"]');
    status.textContent = run.status;
    status.className = "status " + run.status;
    tr.dataset.status = run.status;
    var behind = tr.querySelector(".behind");
    if (behind && !run.queued_behind_running) { behind.remove(); }
    drawTables(tr.querySelector('[data-field="tables"]'), run);
    drawWindow(tr.querySelector('[data-field="window"]'), run);
    drawProblem(tr.querySelector('[data-field="problem"]'), run);
    tr.querySelector('[data-field="requests"]').textContent = count(run.requests);
    tr.querySelector('[data-field="duration"]').textContent = duration(run.duration_seconds);
  }

  function refresh() {
    if (!source) { return; }
    fetch(source, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html === null) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html");
        document.querySelectorAll("[data-section]").forEach(function (old) {
          var name = old.dataset.section;
          var next = fresh.querySelector('[data-section="' + name + '"]');
          if (next) { old.replaceWith(document.importNode(next, true)); }
        });
        watch();
      })
      .catch(function () { window.setTimeout(refresh, 3000); });
  }

  function ended() {
    // The banner that announced the run ("Sync started …") has served its turn.
    document.querySelectorAll(".flash").forEach(function (f) { f.remove(); });
    refresh();
  }

  function poll(id) {
    fetch("/api/runs/" + id, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (run) {
        var tr = document.getElementById("run-" + id);
        if (run && tr) { draw(tr, run); }
        if (run && ACTIVE.indexOf(run.status) >= 0) {
          window.setTimeout(function () { poll(id); }, 1000);
          return;
        }
        delete watching[id];
        if (tr) { tr.classList.remove("live"); }
        if (run) { ended(); }
      })
      .catch(function () { window.setTimeout(function () { poll(id); }, 3000); });
  }

  // An auto-sync run may start while the page is open: look for it once the
  // next scheduled time has passed, backing off while it has not appeared.
  function awaitScheduled() {
    window.clearTimeout(nextTimer);
    var next = document.getElementById("next-sync");
    if (!next || Object.keys(watching).length) { return; }
    var due = Date.parse(next.textContent.replace(" UTC", "Z").replace(" ", "T"));
    if (isNaN(due)) { return; }
    var wait = due - Date.now() + 1500;
    if (wait <= 0) {
      pastTries += 1;
      wait = Math.min(1500 * Math.pow(2, pastTries), 60000);
    } else {
      pastTries = 0;
    }
    if (wait < 3600 * 1000) { nextTimer = window.setTimeout(refresh, wait); }
  }

  function watch() {
    document.querySelectorAll("tr.live").forEach(function (tr) {
      var id = tr.dataset.run;
      if (!watching[id]) { watching[id] = true; poll(id); }
    });
    if (document.querySelector("[data-busy]")) { window.setTimeout(refresh, 2000); }
    awaitScheduled();
  }

  watch();
})();
