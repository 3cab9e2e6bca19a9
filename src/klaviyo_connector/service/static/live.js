// Live progress of queued and running syncs on the connection page: polls the
// run's JSON and redraws its row; on the overview it reloads once a run ends so
// the history, chart and next sync time are current (never while a settings
// or recovery form may hold unsaved input).
(function () {
  "use strict";
  var ACTIVE = ["queued", "running"];
  var editing = document.querySelector("form.settings, form.historical") !== null;

  function reload(delay) {
    if (!editing) { window.setTimeout(function () { window.location.reload(); }, delay); }
  }

  function text(tag, value, cls) {
    var el = document.createElement(tag);
    el.textContent = value;
    if (cls) { el.className = cls; }
    return el;
  }

  function drawTables(cell, run) {
    cell.replaceChildren();
    Object.keys(run.tables).forEach(function (name) {
      var t = run.tables[name];
      var row = text("div", name + ": ", "table-row" + (t.error ? " failed" : ""));
      row.dataset.table = name;
      row.appendChild(text("b", t.rows.toLocaleString("en-US")));
      if (run.status === "running" && !t.done) { row.appendChild(document.createTextNode(" …")); }
      cell.appendChild(row);
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
    tr.querySelector('[data-field="requests"]').textContent = run.requests.toLocaleString("en-US");
  }

  function poll(tr) {
    fetch("/api/runs/" + tr.dataset.run, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (run) {
        if (!run) { return; }
        draw(tr, run);
        if (ACTIVE.indexOf(run.status) < 0) {
          if (editing) { tr.classList.remove("live"); }
          reload(400);
        } else {
          window.setTimeout(function () { poll(tr); }, 1000);
        }
      })
      .catch(function () { window.setTimeout(function () { poll(tr); }, 3000); });
  }

  document.querySelectorAll("tr.live").forEach(poll);

  // An auto-sync run may start while the page is open: look for it after the
  // next scheduled time has passed.
  var next = document.getElementById("next-sync");
  if (next && !document.querySelector("tr.live")) {
    var when = Date.parse(next.textContent.replace(" UTC", "Z").replace(" ", "T"));
    if (!isNaN(when)) {
      var wait = Math.max(when - Date.now() + 1500, 1500);
      if (wait < 3600 * 1000) { reload(wait); }
    }
  }
})();
