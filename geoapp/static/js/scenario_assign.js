/* "Assign these villages to a program" on a scenario's page: list the register's programs
   (JSON API), then assign the scenario's villages (this version) to the chosen program with
   base_version, the register version the list came from. Data is written as text
   (textContent), never as HTML. */
(function () {
  'use strict';

  var form = document.getElementById('scenario-assign-form');
  if (!form) { return; }
  var strings = {};
  try {
    strings = JSON.parse(document.getElementById('scenario-assign-strings').textContent);
  } catch (e) { strings = {}; }
  var lang = document.documentElement.getAttribute('lang') || 'id';
  var select = document.getElementById('assign-program');
  var statusEl = document.getElementById('assign-status');
  var button = document.getElementById('assign-button');
  var link = document.getElementById('assign-program-link');
  var registerVersion = null;

  function withLang(url) {
    return url + (url.indexOf('?') >= 0 ? '&' : '?') + 'lang=' + encodeURIComponent(lang);
  }

  function fill(template, params) {
    return String(template || '').replace(/%\((\w+)\)s/g, function (m, key) {
      return params[key] === undefined ? m : String(params[key]);
    });
  }

  function option(value, text) {
    var o = document.createElement('option');
    o.value = value;
    o.textContent = text;
    select.appendChild(o);
  }

  function loadPrograms() {
    button.disabled = true;
    return fetch(withLang(form.getAttribute('data-programs-api')),
                 {headers: {Accept: 'application/json'}})
      .then(function (r) { return r.json(); })
      .then(function (body) {
        registerVersion = body.version;
        while (select.firstChild) { select.removeChild(select.firstChild); }
        if (!body.programs || !body.programs.length) {
          option('', strings.none);
          return;
        }
        option('', strings.choose);
        body.programs.forEach(function (p) {
          option(p.program_id, p.program_id + ' · ' + p.name);
        });
        button.disabled = false;
        form.setAttribute('data-ready', '1');
      })
      .catch(function () { statusEl.textContent = strings.network; });
  }

  form.addEventListener('submit', function (e) {
    e.preventDefault();
    if (!select.value) { select.focus(); return; }
    var body = {
      scenario: form.getAttribute('data-scenario'),
      version: Number(form.getAttribute('data-version')),
      base_version: registerVersion
    };
    var planned = document.getElementById('assign-planned').value.trim();
    if (planned !== '') { body.planned = Number(planned); }
    var user = document.getElementById('assign-user').value.trim();
    if (user) { body.user = user; }
    var url = form.getAttribute('data-assign-api').replace(
      'PROGRAM_ID', encodeURIComponent(select.value));
    button.disabled = true;
    statusEl.textContent = strings.saving;
    link.hidden = true;
    fetch(withLang(url), {
      method: 'POST',
      body: JSON.stringify(body),
      headers: {'Content-Type': 'application/json', Accept: 'application/json'}
    }).then(function (r) {
      return r.json().then(function (json) { return {ok: r.ok, status: r.status, body: json}; });
    }).then(function (res) {
      button.disabled = false;
      if (!res.ok) {
        var reason = (res.body.error || {}).message || res.status;
        statusEl.textContent = fill(res.status === 409 ? strings.conflict : strings.failed,
                                    {reason: reason});
        return;
      }
      registerVersion = res.body.version;
      statusEl.textContent = fill(strings.assigned,
                                  {added: res.body.added, version: res.body.version});
      link.href = res.body.links.html;
      link.hidden = false;
    }).catch(function () {
      button.disabled = false;
      statusEl.textContent = strings.network;
    });
  });

  loadPrograms();
})();
