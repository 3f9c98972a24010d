/* The register upload: send the file with dry_run=1, show every rejected row (sheet, row,
   column, reason) or what would be imported, and import with dry_run=0 only when the user
   confirms. Data is written as text (textContent), never as HTML. */
(function () {
  'use strict';

  var form = document.getElementById('upload-form');
  if (!form) { return; }
  var strings = {};
  try {
    strings = JSON.parse(document.getElementById('programs-strings').textContent);
  } catch (e) { strings = {}; }
  var lang = document.documentElement.getAttribute('lang') || 'id';
  var fileInput = document.getElementById('upload-file');
  var statusEl = document.getElementById('upload-status');
  var box = document.getElementById('dry-run');
  var title = document.getElementById('dry-run-title');
  var messages = document.getElementById('dry-run-messages');
  var problems = document.getElementById('problems');
  var importButton = document.getElementById('import-button');
  var checkButton = document.getElementById('check-button');
  var checked = null;  // the File that passed the dry run

  function fill(template, params) {
    return String(template || '').replace(/%\((\w+)\)s/g, function (m, key) {
      return params[key] === undefined ? m : String(params[key]);
    });
  }

  function clear(el) {
    while (el.firstChild) { el.removeChild(el.firstChild); }
  }

  function send(dryRun) {
    var file = fileInput.files[0];
    var body = new FormData();
    body.append('file', file);
    body.append('dry_run', dryRun ? '1' : '0');
    body.append('user', document.getElementById('upload-user').value);
    body.append('note', document.getElementById('upload-note').value);
    var url = form.getAttribute('data-api');
    url += (url.indexOf('?') >= 0 ? '&' : '?') + 'lang=' + encodeURIComponent(lang);
    return fetch(url, {method: 'POST', body: body, headers: {Accept: 'application/json'}})
      .then(function (r) {
        return r.json().then(function (json) { return {ok: r.ok, status: r.status, body: json}; });
      });
  }

  function showMessages(list) {
    clear(messages);
    (list || []).forEach(function (text) {
      var li = document.createElement('li');
      li.textContent = text;
      messages.appendChild(li);
    });
  }

  function showProblems(rows) {
    var body = problems.tBodies[0];
    clear(body);
    rows.forEach(function (p) {
      var tr = document.createElement('tr');
      [p.sheet || p.file || '', p.row === null || p.row === undefined ? '' : String(p.row),
       p.column || '', p.reason || p.text || ''].forEach(function (text, i) {
        var td = document.createElement('td');
        if (i === 1) { td.className = 'num'; }
        td.textContent = text;
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    problems.hidden = rows.length === 0;
  }

  function busy(on, text) {
    checkButton.disabled = on;
    importButton.disabled = on;
    statusEl.textContent = text || '';
  }

  form.addEventListener('submit', function (e) {
    e.preventDefault();
    checked = null;
    importButton.hidden = true;
    if (!fileInput.files.length) {
      statusEl.textContent = strings.choose_file;
      return;
    }
    var file = fileInput.files[0];
    busy(true, strings.checking);
    send(true).then(function (res) {
      busy(false, '');
      box.hidden = false;
      if (res.ok) {
        checked = file;
        box.className = 'dry-run ok';
        title.textContent = strings.ready;
        showMessages(res.body.messages);
        showProblems([]);
        importButton.hidden = false;
        return;
      }
      var err = res.body.error || {};
      var rows = (err.details && err.details.problems) || [];
      box.className = 'dry-run bad';
      if (rows.length) {
        title.textContent = fill(strings.rejected, {count: rows.length});
        showMessages([]);
      } else {
        title.textContent = fill(strings.failed, {reason: err.message || res.status});
        showMessages([]);
      }
      showProblems(rows);
    }).catch(function () {
      busy(false, strings.network);
    });
  });

  fileInput.addEventListener('change', function () {
    checked = null;
    importButton.hidden = true;
    box.hidden = true;
  });

  importButton.addEventListener('click', function () {
    if (!checked || fileInput.files[0] !== checked) { return; }
    busy(true, strings.importing);
    send(false).then(function (res) {
      busy(false, '');
      importButton.hidden = true;
      if (res.ok) {
        box.className = 'dry-run ok';
        title.textContent = fill(strings.imported, {version: res.body.version});
        showMessages(res.body.messages);
        window.setTimeout(function () { window.location.reload(); }, 1500);
        return;
      }
      var err = res.body.error || {};
      box.className = 'dry-run bad';
      title.textContent = fill(strings.failed, {reason: err.message || res.status});
      showProblems((err.details && err.details.problems) || []);
    }).catch(function () {
      busy(false, strings.network);
    });
  });
})();
