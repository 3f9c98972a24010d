/* Scenario pages: the form that runs a scenario through the JSON API, tooltips on the
   scenario maps, deleting a scenario. Data is written as text (textContent), never as HTML. */
(function () {
  'use strict';

  function readJSON(id, fallback) {
    var el = document.getElementById(id);
    if (!el) { return fallback; }
    try { return JSON.parse(el.textContent); } catch (e) { return fallback; }
  }

  var strings = readJSON('scenario-strings', {});

  function fill(template, params) {
    return String(template || '').replace(/%\((\w+)\)s/g, function (m, key) {
      return params[key] === undefined ? m : String(params[key]);
    });
  }

  function withLang(url) {
    var lang = document.documentElement.getAttribute('lang');
    if (!lang) { return url; }
    return url + (url.indexOf('?') >= 0 ? '&' : '?') + 'lang=' + encodeURIComponent(lang);
  }

  // --- tooltips on a scenario map -----------------------------------------------------

  function tooltip(lines) {
    var box = document.createElement('div');
    box.className = 'scenario-tooltip';
    lines.forEach(function (text, i) {
      if (!text) { return; }
      var line = document.createElement(i === 0 ? 'strong' : 'div');
      line.textContent = text;
      box.appendChild(line);
    });
    return box;
  }

  function bindTooltips() {
    var registry = window.jangkauScenarioMap;
    var wrap = document.getElementById('scenario-map');
    if (!registry || !wrap) { return; }
    var names = readJSON('scenario-names', {});
    Object.keys(registry.layers).forEach(function (key) {
      var group = registry.layers[key];
      if (!group || !group.eachLayer) { return; }
      group.eachLayer(function (layer) {
        var props = (layer.feature && layer.feature.properties) || {};
        var entry = null;
        if (props.kode !== undefined) {
          var known = names[props.kode] || [];
          // the village's name, its code, its kecamatan, then why it is shown
          entry = [known[0] || props.kode, known[0] ? props.kode : ''].concat(known.slice(1));
        } else if (props.site_id !== undefined) {
          entry = names['site:' + props.site_id] || [props.site_id];
        }
        if (entry && key !== 'outlines' && key !== 'reach') {
          layer.bindTooltip(tooltip(entry), {sticky: true});
        }
      });
    });
    wrap.setAttribute('data-ready', '1');
  }

  // --- the form ------------------------------------------------------------------------

  function codes(text) {
    return String(text || '').split(/[\s,;]+/).map(function (c) { return c.trim(); })
      .filter(function (c) { return c.length > 0; });
  }

  function numberOf(id) {
    var el = document.getElementById(id);
    if (!el || el.disabled || el.value === '') { return null; }
    var value = Number(el.value);
    return isFinite(value) ? value : el.value;
  }

  function kind(form) {
    var checked = form.querySelector('input[name="kind"]:checked');
    return checked ? checked.value : 'placement';
  }

  function placementSettings() {
    var settings = {benefit: document.getElementById('f-benefit').value};
    var costKind = document.getElementById('f-cost-kind').value;
    var rate = numberOf('f-cost-rate');
    if (costKind === 'fixed') { settings.cost = rate; }
    else if (costKind) { settings.cost = costKind + ':' + (rate === null ? '' : rate); }
    var budget = numberOf('f-budget');
    var topN = numberOf('f-top-n');
    if (budget !== null) { settings.budget = budget; }
    if (topN !== null) { settings.top_n = topN; }
    var rules = {};
    document.querySelectorAll('[data-rule-switch]').forEach(function (box) {
      if (!box.checked) { return; }
      var rule = box.getAttribute('data-rule-switch');
      var input = document.getElementById('r-' + rule);
      if (input.tagName === 'TEXTAREA') { rules[rule] = codes(input.value); }
      else { rules[rule] = numberOf('r-' + rule); }
    });
    if (Object.keys(rules).length) { settings.rules = rules; }
    var add = codes(document.getElementById('f-add').value);
    var remove = codes(document.getElementById('f-remove').value);
    if (add.length) { settings.add = add; }
    if (remove.length) { settings.remove = remove; }
    return settings;
  }

  function sitingSettings() {
    var settings = {
      model: document.getElementById('f-model').value,
      facility_type: document.getElementById('f-type').value,
      demand: document.getElementById('f-demand').value,
      weight_by_score: document.getElementById('f-weight').checked
    };
    var candidates = document.getElementById('f-candidates').value;
    settings.candidates = candidates === 'grid'
      ? 'grid:' + (document.getElementById('f-grid').value || '') : candidates;
    var distance = numberOf('f-distance');
    var k = numberOf('f-k');
    if (distance !== null) { settings.distance_m = distance; }
    if (k !== null) { settings.k = k; }
    return settings;
  }

  function showError(form, message, setting) {
    var box = document.getElementById('form-error');
    box.textContent = message;
    box.hidden = false;
    form.querySelectorAll('.invalid').forEach(function (el) {
      el.classList.remove('invalid');
      el.removeAttribute('aria-invalid');
    });
    if (setting) {
      var fields = form.querySelectorAll('[data-setting]');
      var focused = false;
      fields.forEach(function (el) {
        var name = el.getAttribute('data-setting');
        if (name === setting || name === 'rules.' + setting || setting.indexOf(name + '.') === 0) {
          el.classList.add('invalid');
          el.setAttribute('aria-invalid', 'true');
          if (!focused && !el.closest('[hidden]')) { el.focus(); focused = true; }
        }
      });
    }
    box.scrollIntoView({block: 'nearest'});
  }

  function setupForm() {
    var page = document.getElementById('scenarios-page');
    var form = document.getElementById('scenario-form');
    if (!page || !form) { return; }
    var status = document.getElementById('form-status');
    var button = document.getElementById('run-button');

    function showKind() {
      var chosen = kind(form);
      form.querySelectorAll('fieldset[data-kind]').forEach(function (set) {
        set.hidden = set.getAttribute('data-kind') !== chosen;
      });
      var time = document.getElementById('f-time');
      time.placeholder = time.getAttribute('data-' + chosen) || '';
    }
    form.querySelectorAll('input[name="kind"]').forEach(function (radio) {
      radio.addEventListener('change', showKind);
    });
    showKind();
    form.querySelectorAll('[data-rule-switch]').forEach(function (box) {
      var input = document.getElementById('r-' + box.getAttribute('data-rule-switch'));
      function sync() { input.disabled = !box.checked; }
      box.addEventListener('change', sync);
      sync();
    });
    var candidates = document.getElementById('f-candidates');
    var grid = document.getElementById('f-grid');
    candidates.addEventListener('change', function () { grid.hidden = candidates.value !== 'grid'; });
    var type = document.getElementById('f-type');
    var distance = document.getElementById('f-distance');
    function syncDistance() {
      var option = type.options[type.selectedIndex];
      if (option) { distance.placeholder = option.getAttribute('data-distance') || ''; }
    }
    type.addEventListener('change', syncDistance);
    syncDistance();

    form.addEventListener('submit', function (event) {
      event.preventDefault();
      var name = document.getElementById('f-name').value.trim();
      if (!name) {
        showError(form, strings.name_required, 'name');
        return;
      }
      var chosen = kind(form);
      var settings = chosen === 'siting' ? sitingSettings() : placementSettings();
      var time = numberOf('f-time');
      if (time !== null) { settings.time_limit = time; }
      var body = {
        name: name,
        kind: chosen,
        profile: document.getElementById('f-profile').value,
        title: document.getElementById('f-title').value.trim() || null,
        author: document.getElementById('f-author').value.trim() || null,
        note: document.getElementById('f-note').value.trim(),
        settings: settings
      };
      document.getElementById('form-error').hidden = true;
      button.disabled = true;
      status.textContent = strings.running;
      fetch(withLang(page.getAttribute('data-api')), {
        method: 'POST',
        headers: {'Content-Type': 'application/json', 'Accept': 'application/json'},
        body: JSON.stringify(body)
      }).then(function (response) {
        return response.json().then(function (data) { return {ok: response.ok, data: data}; });
      }).then(function (answer) {
        if (answer.ok) {
          window.location.assign(answer.data.links.html);
          return;
        }
        var error = (answer.data && answer.data.error) || {};
        var details = error.details || {};
        showError(form, fill(strings.failed, {reason: error.message || ''}),
          details.setting || details.parameter || null);
        status.textContent = '';
        button.disabled = false;
      }).catch(function () {
        showError(form, strings.network, null);
        status.textContent = '';
        button.disabled = false;
      });
    });
  }

  // --- deleting ------------------------------------------------------------------------

  function setupDelete() {
    var page = document.getElementById('scenario-page');
    var button = document.getElementById('delete-button');
    if (!page || !button) { return; }
    var status = document.getElementById('delete-status');
    button.addEventListener('click', function () {
      if (!window.confirm(strings.confirm_delete)) { return; }
      button.disabled = true;
      fetch(withLang(page.getAttribute('data-api')), {method: 'DELETE'}).then(function (response) {
        if (response.ok) {
          window.location.assign(page.getAttribute('data-list'));
          return null;
        }
        return response.json().then(function (data) {
          status.textContent = fill(strings.failed, {reason: (data.error || {}).message || ''});
          button.disabled = false;
        });
      }).catch(function () {
        status.textContent = strings.network;
        button.disabled = false;
      });
    });
  }

  function start() {
    bindTooltips();
    setupForm();
    setupDelete();
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
}());
