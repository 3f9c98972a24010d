/* The workspace page's layer import. "Check the file" sends it with dry_run=1, "Import"
   with dry_run=0, to POST /api/workspaces/<ws>/datasets; the answer's counts, or every
   rejected row (file, row, column, reason), are shown. Data is written as text
   (textContent), never as HTML. The page's CSRF token (<meta name="csrf-token">), when
   there is one, goes in the X-CSRFToken header. */
(function () {
  'use strict';

  var form = document.getElementById('upload-form');
  if (!form || !window.fetch || !window.FormData) { return; }
  var strings = {};
  try {
    strings = JSON.parse(document.getElementById('upload-strings').textContent);
  } catch (e) { strings = {}; }
  var lang = document.documentElement.getAttribute('lang') || 'id';
  var statusEl = document.getElementById('upload-status');
  var fileInput = document.getElementById('upload-file');
  var table = document.getElementById('upload-rows');
  var tbody = table ? table.querySelector('tbody') : null;
  var buttons = form.querySelectorAll('button[type="submit"]');
  var dryRun = '1';

  function fillText(template, params) {
    return String(template || '').replace(/%\((\w+)\)s/g, function (m, key) {
      return params[key] === undefined ? m : String(params[key]);
    });
  }

  function say(text, kind) {
    statusEl.className = 'form-status' + (kind ? ' ' + kind : '');
    statusEl.textContent = text;
  }

  function cell(row, value, numeric) {
    var td = document.createElement('td');
    if (numeric) { td.className = 'num'; }
    td.textContent = value === null || value === undefined ? '' : String(value);
    row.appendChild(td);
  }

  function showRows(rows) {
    if (!tbody) { return; }
    while (tbody.firstChild) { tbody.removeChild(tbody.firstChild); }
    (rows || []).forEach(function (r) {
      var tr = document.createElement('tr');
      cell(tr, r.file);
      cell(tr, r.row, true);
      cell(tr, r.column);
      cell(tr, r.reason);
      tbody.appendChild(tr);
    });
    table.hidden = !(rows && rows.length);
  }

  function headers() {
    var out = {Accept: 'application/json'};
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta && meta.getAttribute('content')) { out['X-CSRFToken'] = meta.getAttribute('content'); }
    return out;
  }

  function enable(on) {
    Array.prototype.forEach.call(buttons, function (b) { b.disabled = !on; });
  }

  Array.prototype.forEach.call(buttons, function (button) {
    button.addEventListener('click', function () {
      dryRun = button.getAttribute('data-dry-run') || '1';
    });
  });

  form.addEventListener('submit', function (e) {
    e.preventDefault();
    showRows([]);
    if (!fileInput.files || !fileInput.files.length) {
      say(strings.choose_file, 'bad');
      return;
    }
    var data = new FormData(form);
    data.set('dry_run', dryRun);
    var url = form.getAttribute('data-api');
    url += (url.indexOf('?') >= 0 ? '&' : '?') + 'lang=' + encodeURIComponent(lang);
    enable(false);
    say(strings.sending);
    fetch(url, {method: 'POST', body: data, headers: headers(), credentials: 'same-origin'})
      .then(function (r) {
        return r.json().then(
          function (json) { return {ok: r.ok, status: r.status, body: json}; },
          function () { return {ok: false, status: r.status, body: {}}; }
        );
      })
      .then(function (res) {
        enable(true);
        var body = res.body || {};
        if (!res.ok) {
          var err = body.error || {};
          var details = err.details || {};
          if (err.code === 'rows_rejected') {
            say(fillText(strings.rejected, {count: (details.counts || {}).rejected}), 'bad');
            showRows(details.rows);
          } else {
            say(fillText(strings.failed, {reason: err.message || String(res.status)}), 'bad');
          }
          return;
        }
        var counts = body.counts || {};
        var params = {
          accepted: counts.accepted, repaired: counts.repaired, warnings: counts.warnings,
          ref: body.dataset ? body.dataset.ref : ''
        };
        if (body.stored) {
          say(fillText(strings.stored, params), 'ok');
          window.setTimeout(function () { window.location.reload(); }, 1500);
        } else if (body.unchanged) {
          say(fillText(strings.unchanged, params), 'ok');
        } else {
          say(fillText(strings.checked, params), 'ok');
        }
      })
      .catch(function () {
        enable(true);
        say(strings.network, 'bad');
      });
  });
}());
