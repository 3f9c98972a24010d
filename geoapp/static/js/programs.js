/* The programs pages. The register upload: send the file with dry_run=1, show every
   rejected row (sheet, row, column, reason) or what would be imported, and import with
   dry_run=0 only when the user confirms. The edit forms (new program, log activity, assign
   villages) send JSON with base_version, the register version the page showed, and show
   the server's message (a 409 names the row someone else changed). Before and after asks
   the JSON API for the comparison of two score runs. Data is written as text
   (textContent), never as HTML. */
(function () {
  'use strict';

  var form = document.getElementById('upload-form');
  var strings = {};
  try {
    strings = JSON.parse(document.getElementById('programs-strings').textContent);
  } catch (e) { strings = {}; }
  var lang = document.documentElement.getAttribute('lang') || 'id';

  function withLang(url) {
    return url + (url.indexOf('?') >= 0 ? '&' : '?') + 'lang=' + encodeURIComponent(lang);
  }

  function fillText(template, params) {
    return String(template || '').replace(/%\((\w+)\)s/g, function (m, key) {
      return params[key] === undefined ? m : String(params[key]);
    });
  }

  function sendJSON(url, method, body) {
    return fetch(withLang(url), {
      method: method,
      body: JSON.stringify(body),
      headers: {'Content-Type': 'application/json', Accept: 'application/json'}
    }).then(function (r) {
      return r.json().then(function (json) { return {ok: r.ok, status: r.status, body: json}; });
    });
  }

  function failure(res) {
    var err = (res.body && res.body.error) || {};
    var reason = err.message || String(res.status);
    if (res.status === 409) { return fillText(strings.conflict, {reason: reason}); }
    return fillText(strings.not_saved || '%(reason)s', {reason: reason});
  }

  function mark(formEl, res) {
    formEl.querySelectorAll('.invalid').forEach(function (el) { el.classList.remove('invalid'); });
    var err = (res && res.body && res.body.error) || {};
    var name = err.details && err.details.parameter;
    if (!name) { return; }
    var field = formEl.querySelector('[name="' + name + '"]');
    if (field) {
      field.classList.add('invalid');
      field.setAttribute('aria-invalid', 'true');
      field.focus();
    }
  }

  function values(formEl, names) {
    var out = {};
    names.forEach(function (name) {
      var el = formEl.querySelector('[name="' + name + '"]');
      if (!el) { return; }
      var v = String(el.value || '').trim();
      if (v === '') { return; }
      out[name] = el.type === 'number' ? Number(v) : v;
    });
    return out;
  }

  function editForm(id, build, done) {
    var formEl = document.getElementById(id);
    if (!formEl) { return; }
    var statusEl = formEl.querySelector('.form-status');
    var button = formEl.querySelector('button[type="submit"]');
    formEl.addEventListener('submit', function (e) {
      e.preventDefault();
      var req = build(formEl);
      button.disabled = true;
      statusEl.textContent = strings.saving;
      sendJSON(req.url || formEl.getAttribute('data-api'), req.method || 'POST', req.body)
        .then(function (res) {
          button.disabled = false;
          mark(formEl, res);
          if (!res.ok) {
            statusEl.className = 'form-status bad';
            statusEl.textContent = failure(res);
            return;
          }
          statusEl.className = 'form-status ok';
          done(res.body, statusEl, formEl);
        })
        .catch(function () {
          button.disabled = false;
          statusEl.textContent = strings.network;
        });
    });
  }

  // --- the programs page: a new program ----------------------------------------------------

  editForm('new-program-form', function (f) {
    var body = values(f, ['program_id', 'name', 'sector', 'organisation', 'donor', 'budget',
                          'start', 'end', 'target_group', 'status', 'user', 'note']);
    body.base_version = Number(f.getAttribute('data-base-version'));
    return {body: body};
  }, function (body, statusEl) {
    statusEl.textContent = fillText(strings.saved, {version: body.version});
    window.location.assign(body.links.html);
  });

  // --- one program's page -------------------------------------------------------------------

  var programEl = document.getElementById('program-data');
  var program = {};
  try { program = programEl ? JSON.parse(programEl.textContent) : {}; } catch (e) { program = {}; }

  function reloadSoon() {
    window.setTimeout(function () { window.location.reload(); }, 1200);
  }

  editForm('log-form', function (f) {
    var body = values(f, ['date', 'figure', 'unit', 'kode', 'description', 'user']);
    body.base_version = program.version;
    return {body: body};
  }, function (body, statusEl) {
    program.version = body.version;
    statusEl.textContent = fillText(strings.logged, {entry: body.activity_id, version: body.version});
    reloadSoon();
  });

  var assignForm = document.getElementById('assign-form');
  if (assignForm) {
    var sourceOf = function () {
      var checked = assignForm.querySelector('input[name="source"]:checked');
      return checked ? checked.value : 'scenario';
    };
    assignForm.querySelectorAll('input[name="source"]').forEach(function (input) {
      input.addEventListener('change', function () {
        var kode = sourceOf() === 'kode';
        document.getElementById('assign-kode-field').hidden = !kode;
        document.getElementById('assign-scenario-field').hidden = kode;
      });
    });
  }

  editForm('assign-form', function (f) {
    var body = values(f, ['planned', 'user']);
    body.base_version = program.version;
    var checked = f.querySelector('input[name="source"]:checked');
    if (checked && checked.value === 'kode') {
      body.kode = String(document.getElementById('assign-kode').value || '')
        .split(/[\s,;]+/).filter(function (k) { return k; });
    } else {
      var select = document.getElementById('assign-scenario');
      body.scenario = select.value;
      var option = select.options[select.selectedIndex];
      if (option && option.getAttribute('data-version')) {
        body.version = Number(option.getAttribute('data-version'));
      }
    }
    return {body: body};
  }, function (body, statusEl) {
    program.version = body.version;
    statusEl.textContent = fillText(strings.assigned, {added: body.added, version: body.version});
    reloadSoon();
  });

  var changeForm = document.getElementById('change-form');
  if (changeForm) {
    var runs = program.score_runs || {};
    var profileSelect = document.getElementById('change-profile');
    var baseSelect = document.getElementById('change-baseline');
    var followSelect = document.getElementById('change-followup');
    var fillRuns = function () {
      var list = runs[profileSelect.value] || [];
      [baseSelect, followSelect].forEach(function (select, which) {
        clear(select);
        list.forEach(function (r) {
          var option = document.createElement('option');
          option.value = String(r.run);
          option.textContent = fillText(strings.run, {run: r.run, date: r.created_at});
          select.appendChild(option);
        });
        if (list.length) { select.selectedIndex = which === 0 ? 0 : list.length - 1; }
      });
    };
    profileSelect.addEventListener('change', fillRuns);
    fillRuns();
    var number = new Intl.NumberFormat(lang, {maximumFractionDigits: 2});
    var changeStatus = document.getElementById('change-status');
    changeForm.addEventListener('submit', function (e) {
      e.preventDefault();
      var url = changeForm.getAttribute('data-api') + '?profile=' +
        encodeURIComponent(profileSelect.value) + '&baseline=' +
        encodeURIComponent(baseSelect.value) + '&followup=' + encodeURIComponent(followSelect.value);
      changeStatus.textContent = strings.loading;
      fetch(withLang(url), {headers: {Accept: 'application/json'}})
        .then(function (r) {
          return r.json().then(function (json) { return {ok: r.ok, status: r.status, body: json}; });
        })
        .then(function (res) {
          var tableEl = document.getElementById('change-table');
          if (!res.ok) {
            tableEl.hidden = true;
            changeStatus.textContent = fillText(strings.load_error, {
              reason: (res.body.error || {}).message || res.status});
            return;
          }
          var tbody = tableEl.tBodies[0];
          clear(tbody);
          res.body.rows.forEach(function (row) {
            var tr = document.createElement('tr');
            tr.setAttribute('data-measure', row.measure);
            ['measure', 'selected_villages', 'selected_before', 'selected_after',
             'selected_change', 'other_villages', 'other_before', 'other_after', 'other_change',
             'difference_in_differences'].forEach(function (key, i) {
              var td = document.createElement('td');
              var v = row[key];
              if (i > 0) { td.className = 'num'; }
              if (i === 0) {
                td.textContent = v === 'score' ? strings.score : String(v);
              } else {
                td.textContent = v === null || v === undefined ? '—' : number.format(v);
              }
              tr.appendChild(td);
            });
            tbody.appendChild(tr);
          });
          tableEl.hidden = false;
          changeStatus.textContent = fillText(strings.compared, {
            baseline: res.body.baseline, followup: res.body.followup,
            count: res.body.selected.length});
        })
        .catch(function () { changeStatus.textContent = strings.network; });
    });
  }

  if (!form) { return; }
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
