/* The coverage page: villages coloured by service coverage or program status (the village
   vector tiles styled here by kode), the timeline that asks the JSON API for the reach on
   another month end and refreshes the headline, the tables, the map and the chart marker
   without a reload, and the village panel ("you said, we did").
   Data is written as text (textContent), never as HTML. */
(function () {
  'use strict';

  function readJSON(id, fallback) {
    var el = document.getElementById(id);
    if (!el) { return fallback; }
    try { return JSON.parse(el.textContent); } catch (e) { return fallback; }
  }

  var page = document.getElementById('coverage-page');
  if (!page) { return; }
  var data = readJSON('coverage-data', {});
  var strings = readJSON('coverage-strings', {});
  var lang = document.documentElement.getAttribute('lang') || 'id';
  var state = {
    lifecycleVersion: data.lifecycle_version || 0,
    asOf: data.as_of,
    colour: data.colour || 'coverage',
    programs: data.village_programs || {},
    shares: data.village_shares || {},
    kode: null
  };

  function fill(template, params) {
    return String(template || '').replace(/%\((\w+)\)s/g, function (m, key) {
      return params[key] === undefined ? m : String(params[key]);
    });
  }

  function withLang(url) {
    return url + (url.indexOf('?') >= 0 ? '&' : '?') + 'lang=' + encodeURIComponent(lang);
  }

  var formats = {
    int: new Intl.NumberFormat(lang, {maximumFractionDigits: 0}),
    number: new Intl.NumberFormat(lang, {maximumFractionDigits: 3}),
    rate: new Intl.NumberFormat(lang, {minimumFractionDigits: 3, maximumFractionDigits: 3}),
    share: new Intl.NumberFormat(lang, {minimumFractionDigits: 1, maximumFractionDigits: 1})
  };

  function label(map, key) {
    return map && map[key] !== undefined ? map[key] : String(key);
  }

  function format(value, kind) {
    if (value === null || value === undefined || value === '') { return '—'; }
    switch (kind) {
      case 'int': case 'money': case 'metres': return formats.int.format(Math.round(value));
      case 'number': return formats.number.format(value);
      case 'rate': return formats.rate.format(value);
      case 'share': return formats.share.format(Math.abs(value) < 5e-4 ? 0 : value * 100) + ' %';
      case 'bool': return value ? strings.yes : strings.no;
      case 'sector': return label(strings.sectors, value);
      case 'status': return label(strings.statuses, value);
      case 'unit': return label(strings.units, value);
      default: return String(value);
    }
  }

  function clear(el) {
    while (el.firstChild) { el.removeChild(el.firstChild); }
  }

  function status(text) {
    var el = document.getElementById('coverage-status');
    if (el) { el.textContent = text || ''; }
  }

  // --- tables ------------------------------------------------------------------------------

  function renderTable(id, rows) {
    var table = document.getElementById(id);
    if (!table) { return; }
    var cols = Array.prototype.map.call(table.querySelectorAll('thead th'), function (th) {
      return {key: th.getAttribute('data-key'), kind: th.getAttribute('data-kind'),
              num: th.classList.contains('num')};
    });
    var body = table.tBodies[0];
    clear(body);
    (rows || []).forEach(function (row) {
      var tr = document.createElement('tr');
      cols.forEach(function (col) {
        var td = document.createElement('td');
        var v = row[col.key];
        if (col.num) { td.className = 'num'; }
        if (col.kind === 'program' && v) {
          var a = document.createElement('a');
          a.href = data.program_url.replace('PROGRAM_ID', encodeURIComponent(v));
          a.textContent = String(v);
          td.appendChild(a);
        } else if (col.kind === 'code' && v) {
          var code = document.createElement('code');
          code.textContent = String(v);
          td.appendChild(code);
        } else {
          td.textContent = format(v, col.kind);
        }
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    var empty = document.querySelector('[data-empty-for="' + id + '"]');
    if (empty) { empty.hidden = (rows || []).length > 0; }
  }

  function renderHeadline(totals) {
    document.querySelectorAll('#headline dd[data-key]').forEach(function (dd) {
      var v = totals[dd.getAttribute('data-key')];
      dd.textContent = format(v === undefined ? 0 : v, dd.getAttribute('data-kind'));
    });
  }

  // --- the map -----------------------------------------------------------------------------

  var map = null;
  var villages = null;

  function fillColour(kode) {
    if (state.colour === 'programs') {
      var p = state.programs[kode];
      return colourOf(data.status_legend, p ? p.status : 'none');
    }
    var s = state.shares[kode];
    return colourOf(data.share_legend, s ? s['class'] : null);
  }

  function colourOf(legend, key) {
    for (var i = 0; i < legend.length; i++) {
      if (legend[i]['class'] === key) { return legend[i].colour; }
    }
    return legend[legend.length - 1].colour;
  }

  function style(props, z) {
    var kode = String(props.kode || '');
    var chosen = kode === state.kode;
    return {fill: true, fillColor: fillColour(kode), fillOpacity: 0.82,
            color: chosen ? '#000000' : '#ffffff', weight: chosen ? 3 : (z < 9 ? 0.3 : 0.8),
            opacity: 0.9};
  }

  function initMap() {
    var el = document.getElementById('coverage-map');
    if (!data.tiles || !data.bounds || !window.L || !L.vectorGrid) { return; }
    // Leaflet.VectorGrid 1.3 calls L.DomEvent.fakeStop (gone since Leaflet 1.8) on clicks:
    // hit-test the village here as Leaflet 1.9's own canvas does.
    L.Canvas.Tile.prototype._onClick = function (e) {
      var point = this._map.mouseEventToLayerPoint(e).subtract(this.getOffset());
      var hit = null;
      for (var id in this._layers) {
        var layer = this._layers[id];
        if (layer.options.interactive && layer._containsPoint(point) &&
            !this._map._draggableMoved(layer)) {
          hit = layer;
        }
      }
      this._fireEvent(hit ? [hit] : false, e);
    };
    var b = data.bounds;
    map = L.map(el, {minZoom: 3, maxZoom: 19, zoomControl: true});
    map.fitBounds([[b[1], b[0]], [b[3], b[2]]]);
    villages = L.vectorGrid.protobuf(data.tiles, {
      rendererFactory: L.canvas.tile,
      interactive: true,
      maxNativeZoom: 14,
      getFeatureId: function (f) { return f.properties.kode; },
      vectorTileLayerStyles: {villages: style}
    }).addTo(map);
    villages.on('click', function (e) {
      var props = e.layer && e.layer.properties;
      if (props && props.kode) { showVillage(String(props.kode), props); }
    });
    window.jangkauCoverage = {map: map, villages: villages, state: state};
  }

  function redraw() {
    if (villages) { villages.redraw(); }
  }

  // --- the village panel ---------------------------------------------------------------------

  function fact(list, name, value) {
    var dt = document.createElement('dt');
    dt.textContent = name;
    var dd = document.createElement('dd');
    dd.textContent = value;
    list.appendChild(dt);
    list.appendChild(dd);
  }

  function item(list, strong, rest) {
    var li = document.createElement('li');
    var b = document.createElement('strong');
    b.textContent = strong;
    li.appendChild(b);
    if (rest) { li.appendChild(document.createTextNode(' ' + rest)); }
    list.appendChild(li);
    return li;
  }

  function programStatusLabel(key) {
    for (var i = 0; i < data.status_legend.length; i++) {
      if (data.status_legend[i]['class'] === key) { return data.status_legend[i].label; }
    }
    return key;
  }

  function showVillage(kode, props) {
    var panel = document.getElementById('village-panel');
    state.kode = kode;
    redraw();
    panel.hidden = false;
    document.getElementById('village-name').textContent = (props && props.name) || kode;
    document.getElementById('village-where').textContent = (props && props.kecamatan) || '';
    var facts = document.getElementById('village-facts');
    clear(facts);
    fact(facts, strings.village_code, kode);
    var s = state.shares[kode];
    if (s) {
      fact(facts, strings.people, format(s.people, 'int'));
      fact(facts, strings.within, format(s.within, 'int'));
      fact(facts, strings.share, format(s.share, 'share'));
      fact(facts, strings.facilities, format(s.facilities, 'int'));
    }
    var p = state.programs[kode];
    fact(facts, strings.program_status, programStatusLabel(p ? p.status : 'none'));
    var profileLink = document.getElementById('village-profile-link');
    if (!profileLink) {
      profileLink = document.createElement('a');
      profileLink.id = 'village-profile-link';
      profileLink.className = 'button';
      profileLink.setAttribute('download', '');
      var holder = document.createElement('p');
      holder.appendChild(profileLink);
      facts.parentNode.insertBefore(holder, facts.nextSibling);
    }
    profileLink.textContent = strings.village_profile || 'Village profile (PDF)';
    profileLink.href = withLang(window.location.pathname.replace(/\/coverage\/?$/, '') +
      '/villages/' + encodeURIComponent(kode) + '/profile.pdf');
    var needs = document.getElementById('village-needs');
    var programs = document.getElementById('village-programs');
    clear(needs);
    clear(programs);
    needs.textContent = strings.loading;
    fetch(withLang(data.needs_api.replace('KODE', encodeURIComponent(kode))),
          {headers: {Accept: 'application/json'}})
      .then(function (r) {
        return r.json().then(function (body) {
          if (!r.ok) { throw new Error(body.error ? body.error.message : r.statusText); }
          return body;
        });
      })
      .then(function (body) {
        if (state.kode !== kode) { return; }
        if (body.name) { document.getElementById('village-name').textContent = body.name; }
        clear(needs);
        if (!body.needs.length) { needs.textContent = strings.no_needs; }
        var several = (data.needs_layers || []).length > 1;
        body.needs.forEach(function (n) {
          var li = item(needs, String(n.category || n.need_id),
               [n.description || '', '(' + fill(strings.need_status, {
                 status: label(strings.need_statuses, n.status)}) + ')',
                several && n.layer ? fill(strings.need_layer, {layer: n.layer}) : ''].join(' '));
          li.setAttribute('data-need', String(n.need_id));
          li.setAttribute('data-layer', String(n.layer || ''));
          li.setAttribute('data-status', String(n.status || ''));
          li.appendChild(needButtons(kode, n));
        });
        var chooser = document.getElementById('need-program');
        clear(chooser);
        body.programs.forEach(function (pr) {
          var o = document.createElement('option');
          o.value = String(pr.program_id);
          o.textContent = pr.program_id + ' · ' + pr.name;
          chooser.appendChild(o);
        });
        if (!body.programs.length) { programs.textContent = strings.no_programs; }
        body.programs.forEach(function (pr) {
          var li = item(programs, pr.program_id + ' ' + pr.name,
                        '· ' + label(strings.statuses, pr.status));
          var a = pr.assignment;
          if (a) {
            var line = document.createElement('div');
            line.textContent = fill(strings.assignment, {
              planned: format(a.planned, 'int'), achieved: format(a.achieved, 'int'),
              unit: label(strings.units, a.unit)});
            li.appendChild(line);
          }
          if (pr.addresses && pr.addresses.length) {
            var why = document.createElement('div');
            why.textContent = fill(strings.addresses, {needs: pr.addresses.join(', ')});
            li.appendChild(why);
          }
        });
      })
      .catch(function (err) {
        clear(needs);
        needs.textContent = fill(strings.load_error, {reason: err.message});
      });
  }

  // --- a need's lifecycle steps (verify, link, close) ---------------------------------------

  function needButtons(kode, need) {
    var box = document.createElement('div');
    box.className = 'need-buttons';
    ['verify', 'link', 'close'].forEach(function (word) {
      var b = document.createElement('button');
      b.type = 'button';
      b.className = 'button small need-' + word;
      b.setAttribute('data-action', word);
      b.textContent = strings[word];
      b.addEventListener('click', function () { needStep(kode, need, word, b); });
      box.appendChild(b);
    });
    return box;
  }

  function needStep(kode, need, word, button) {
    var note = document.getElementById('need-status');
    var by = document.getElementById('need-by').value.trim();
    if (!by) {
      note.textContent = strings.who;
      document.getElementById('need-by').focus();
      return;
    }
    var body = {
      by: by,
      on: document.getElementById('need-on').value,
      layer: need.layer || null,
      base_version: state.lifecycleVersion
    };
    if (word === 'link') {
      var program = document.getElementById('need-program').value;
      if (!program) { note.textContent = strings.no_program; return; }
      body.program_id = program;
    }
    if (!body.layer) { delete body.layer; }
    var url = data.need_action_api.replace('NEED_ID', encodeURIComponent(need.need_id))
      .replace('ACTION', word);
    button.disabled = true;
    note.textContent = strings.saving;
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
        note.textContent = fill(res.status === 409 ? strings.conflict : strings.failed,
                                {reason: reason});
        return;
      }
      state.lifecycleVersion = res.body.version;
      showVillage(kode, {name: document.getElementById('village-name').textContent,
                         kecamatan: document.getElementById('village-where').textContent});
      note.textContent = fill(strings.recorded, {message: res.body.message});
    }).catch(function (err) {
      button.disabled = false;
      note.textContent = fill(strings.load_error, {reason: err.message});
    });
  }

  document.getElementById('village-close').addEventListener('click', function () {
    document.getElementById('village-panel').hidden = true;
    state.kode = null;
    redraw();
  });

  // --- colouring -------------------------------------------------------------------------------

  function setColour(colour) {
    state.colour = colour;
    document.getElementById('legend-coverage').hidden = colour !== 'coverage';
    document.getElementById('legend-programs').hidden = colour !== 'programs';
    redraw();
    rememberInUrl();
  }

  document.querySelectorAll('input[name="colour"]').forEach(function (input) {
    input.addEventListener('change', function () {
      if (input.checked) { setColour(input.value); }
    });
  });
  var typeSelect = document.getElementById('type-select');
  if (typeSelect) {
    typeSelect.addEventListener('change', function () {
      document.getElementById('coverage-controls').submit();
    });
  }
  var showButton = document.getElementById('show-button');
  if (showButton) { showButton.hidden = true; }

  function rememberInUrl() {
    var url = new URL(window.location.href);
    url.searchParams.set('as_of', state.asOf);
    url.searchParams.set('colour', state.colour);
    window.history.replaceState(null, '', url.toString());
  }

  // --- the timeline ----------------------------------------------------------------------------

  var slider = document.getElementById('timeline');
  var output = document.getElementById('as-of-label');
  var pending = null;
  var request = 0;

  function moveMarker(index) {
    document.querySelectorAll('svg.chart-reach').forEach(function (chart) {
      var marker = chart.querySelector('.asof-marker');
      if (!marker) { return; }
      var x = parseFloat(chart.getAttribute('data-x0')) +
        index * parseFloat(chart.getAttribute('data-dx'));
      marker.setAttribute('x1', x.toFixed(1));
      marker.setAttribute('x2', x.toFixed(1));
    });
  }

  function setDate(asOf) {
    document.getElementById('as-of-input').value = asOf;
    document.querySelectorAll('.as-of-text').forEach(function (el) { el.textContent = asOf; });
    document.querySelectorAll('a[id^="download-"]').forEach(function (a) {
      var url = new URL(a.href, window.location.href);
      url.searchParams.set('as_of', asOf);
      a.href = url.pathname + url.search;
    });
  }

  function load(asOf) {
    var mine = ++request;
    status(strings.loading);
    page.setAttribute('aria-busy', 'true');
    var url = data.api + '?as_of=' + encodeURIComponent(asOf) + '&level=none';
    return fetch(withLang(url), {headers: {Accept: 'application/json'}})
      .then(function (r) {
        return r.json().then(function (body) {
          if (!r.ok) { throw new Error(body.error ? body.error.message : r.statusText); }
          return body;
        });
      })
      .then(function (body) {
        if (mine !== request) { return; }
        var reach = body.reach;
        state.asOf = body.as_of;
        state.programs = body.village_programs || {};
        renderHeadline(reach.totals || {});
        renderTable('reach-program', reach.by_program);
        renderTable('reach-sector', reach.by_sector);
        renderTable('reach-kecamatan', reach.by_kecamatan);
        renderTable('gaps', reach.gaps);
        renderTable('overlaps', reach.overlaps);
        setDate(body.as_of);
        redraw();
        rememberInUrl();
        page.setAttribute('data-as-of', body.as_of);
        page.removeAttribute('aria-busy');
        status(fill(strings.updated, {date: body.as_of}));
      })
      .catch(function (err) {
        if (mine !== request) { return; }
        page.removeAttribute('aria-busy');
        status(fill(strings.load_error, {reason: err.message}));
      });
  }

  if (slider) {
    slider.addEventListener('input', function () {
      var asOf = data.months[Number(slider.value)];
      output.textContent = asOf;
      slider.setAttribute('aria-valuetext', asOf);
      moveMarker(Number(slider.value));
      if (pending) { clearTimeout(pending); }
      pending = setTimeout(function () { load(asOf); }, 250);
    });
  }

  page.setAttribute('data-as-of', state.asOf);
  initMap();
})();
