// The map page: the Folium map (window.jangkauMap) made interactive. Villages come from
// the vector tiles; the side panel, search, area outlines, facilities, needs, notes and the
// presenter's view come from this app's JSON API. Every text from the data is written with
// textContent (never as HTML); the page's own texts come from the #map-strings JSON.
(function () {
  "use strict";

  var reg = window.jangkauMap;
  var configEl = document.getElementById("jangkau-map-config");
  var stringsEl = document.getElementById("map-strings");
  var stateEl = document.getElementById("map-state");
  if (!reg || !configEl || !stringsEl || !stateEl || typeof L === "undefined") {
    return;
  }
  var config = JSON.parse(configEl.textContent);
  var T = JSON.parse(stringsEl.textContent);
  var initial = JSON.parse(stateEl.textContent);
  var map = reg.map;
  var layers = reg.layers;
  var urls = config.urls;
  var locale = config.lang === "id" ? "id-ID" : "en";
  var fmt = {
    int: new Intl.NumberFormat(locale, {maximumFractionDigits: 0}),
    one: new Intl.NumberFormat(locale, {minimumFractionDigits: 1, maximumFractionDigits: 1}),
    upToOne: new Intl.NumberFormat(locale, {maximumFractionDigits: 1}),
    two: new Intl.NumberFormat(locale, {maximumFractionDigits: 2}),
    pct: new Intl.NumberFormat(locale, {style: "percent", maximumFractionDigits: 0}),
    date: new Intl.DateTimeFormat(locale, {dateStyle: "medium"}),
    dateTime: new Intl.DateTimeFormat(locale, {dateStyle: "medium", timeStyle: "short"})
  };
  var MIN_LABEL_ZOOM = {kecamatan: 10, kabupaten: 8};
  var MAX_LABELS = 250;
  var FACILITY_ICONS = {
    hospital: "hospital", puskesmas: "house-medical", pustu: "kit-medical",
    poskesdes: "suitcase-medical", posyandu: "baby", clinic: "stethoscope",
    paud: "shapes", sd: "school", smp: "book", sma: "graduation-cap",
    water_point: "faucet-drip", other: "location-dot"
  };
  var SECTOR_COLOURS = {health: "red", education: "blue", water: "cadetblue", other: "gray"};
  var SEVERITY_COLOURS = ["#fee5d9", "#fcae91", "#fb6a4a", "#de2d26", "#a50f15"];

  var state = {
    profile: initial.profile,
    indicator: initial.indicator || null,
    kec: initial.kec || null,
    kode: null,
    presenting: false,
    following: false,
    applying: false
  };

  // --- small helpers -------------------------------------------------------------------

  function text(template, params) {
    return String(template).replace(/%\((\w+)\)s/g, function (whole, name) {
      return params && params[name] !== undefined && params[name] !== null ? String(params[name]) : whole;
    });
  }

  function el(tag, className, content) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (content !== undefined && content !== null) {
      node.textContent = String(content);
    }
    return node;
  }

  function clear(node) {
    while (node.firstChild) {
      node.removeChild(node.firstChild);
    }
  }

  function withQuery(url, params) {
    var query = [];
    Object.keys(params).forEach(function (key) {
      var value = params[key];
      if (value !== null && value !== undefined && value !== "") {
        query.push(encodeURIComponent(key) + "=" + encodeURIComponent(value));
      }
    });
    if (!query.length) {
      return url;
    }
    return url + (url.indexOf("?") >= 0 ? "&" : "?") + query.join("&");
  }

  function hole(url, name, value) {
    return url.replace("{" + name + "}", encodeURIComponent(value));
  }

  var statusEl = document.getElementById("map-status");
  function status(message) {
    if (statusEl) {
      statusEl.textContent = message || "";
    }
  }

  function fetchJSON(url, options) {
    var opts = options || {};
    opts.headers = Object.assign({Accept: "application/json"}, opts.headers || {});
    return fetch(url, opts).then(function (response) {
      return response.text().then(function (body) {
        var data = null;
        try {
          data = body ? JSON.parse(body) : null;
        } catch (err) {
          data = null;
        }
        if (!response.ok) {
          var message = data && data.error && data.error.message ? data.error.message : response.statusText;
          var error = new Error(message);
          error.status = response.status;
          throw error;
        }
        return data;
      });
    });
  }

  function failed(err) {
    if (err && err.name === "AbortError") {
      return;
    }
    status(text(T.load_error, {reason: err && err.message ? err.message : String(err)}));
  }

  function debounce(fn, ms) {
    var timer = null;
    return function () {
      var args = arguments;
      clearTimeout(timer);
      timer = setTimeout(function () { fn.apply(null, args); }, ms);
    };
  }

  function formatValue(value, unit) {
    if (value === null || value === undefined) {
      return T.no_value;
    }
    if (unit === "share") {
      return fmt.pct.format(value);
    }
    if (unit === "m") {
      return value >= 10000 ? fmt.one.format(value / 1000) + " km" : fmt.int.format(value) + " m";
    }
    if (unit === "people") {
      return fmt.int.format(value);
    }
    return fmt.two.format(value);
  }

  function bound(value) {
    // As the server's legend: whole above 1,000, one decimal above 10, else two.
    var size = Math.abs(value);
    return (size >= 1000 ? fmt.int : size >= 10 ? fmt.upToOne : fmt.two).format(value);
  }

  function formatRange(entry) {
    var lower = entry.lower, upper = entry.upper;
    if (lower === null && upper === null) {
      return "";
    }
    if (lower === null) {
      return "≤ " + bound(upper);
    }
    if (upper === null) {
      return "≥ " + bound(lower);
    }
    return bound(lower) + " – " + bound(upper);
  }

  function shownLayers() {
    return config.overlays.filter(function (key) { return map.hasLayer(layers[key]); });
  }

  // --- the URL is the view (permalink) -----------------------------------------------------

  function viewParams() {
    var centre = map.getCenter();
    return {
      profile: state.profile,
      indicator: state.indicator || "",
      layers: shownLayers().join(","),
      kec: state.kec || "",
      z: String(map.getZoom()),
      lat: centre.lat.toFixed(5),
      lon: centre.lng.toFixed(5)
    };
  }

  function pageUrl(extra) {
    var params = new URLSearchParams(window.location.search);
    var view = Object.assign(viewParams(), extra || {});
    Object.keys(view).forEach(function (key) {
      if (view[key] === "" && key !== "layers") {
        params.delete(key);
      } else {
        params.set(key, view[key]);
      }
    });
    return window.location.pathname + "?" + params.toString();
  }

  function writeUrl() {
    if (window.history && window.history.replaceState) {
      window.history.replaceState(null, "", pageUrl());
    }
    document.querySelectorAll("a[data-lang]").forEach(function (link) {
      link.setAttribute("href", pageUrl({lang: link.getAttribute("data-lang")}));
    });
    var layersInput = document.getElementById("layers-input");
    if (layersInput) {
      layersInput.value = shownLayers().join(",");
    }
  }
  var writeUrlSoon = debounce(writeUrl, 150);

  // --- legend -------------------------------------------------------------------------------

  function renderLegend(legend, title) {
    var box = document.getElementById(config.legendId);
    if (!box) {
      return;
    }
    var heading = box.querySelector(".map-legend-title");
    var list = box.querySelector(".map-legend-items");
    heading.textContent = title;
    clear(list);
    var classes = legend.filter(function (e) { return e["class"] !== null; });
    classes.sort(function (a, b) { return b["class"] - a["class"]; });
    var missing = legend.filter(function (e) { return e["class"] === null; })[0];
    classes.concat(missing ? [missing] : []).forEach(function (entry) {
      var item = el("li");
      item.setAttribute("data-class", entry["class"] === null ? "" : String(entry["class"]));
      item.setAttribute("data-colour", entry.colour);
      var swatch = el("span", "swatch");
      swatch.style.background = entry.colour;
      item.appendChild(swatch);
      item.appendChild(el("span", "legend-label", entry.label || T.no_data));
      if (entry["class"] !== null) {
        item.appendChild(document.createTextNode(" "));
        item.appendChild(el("span", "legend-range", formatRange(entry)));
      }
      list.appendChild(item);
    });
  }

  // --- villages: colours, filter, selection ---------------------------------------------------

  var villages = layers.villages;
  var look = villages.options.jangkau;

  function tileUrl(version) {
    var base = urls.tiles.split("?")[0];
    return withQuery(base, {profile: state.profile, indicator: state.indicator || "", v: version || ""});
  }

  function applyValues(indicator) {
    state.indicator = indicator || null;
    status(T.loading);
    return fetchJSON(withQuery(urls.values, {profile: state.profile, indicator: state.indicator || ""}))
      .then(function (values) {
        var colours = {};
        values.legend.forEach(function (entry) {
          if (entry["class"] === null) {
            look.noValue = entry.colour;
          } else {
            colours[String(entry["class"])] = entry.colour;
          }
        });
        look.colours = colours;
        villages.setUrl(tileUrl(values.version));
        var title = values.label || T.score_label;
        if (values.unit_label) {
          title += " (" + values.unit_label + ")";
        }
        renderLegend(values.legend, title);
        var select = document.getElementById("indicator-select");
        if (select) {
          select.value = state.indicator || "";
        }
        status("");
        writeUrl();
        sendPresenterSoon();
      })
      .catch(failed);
  }

  var highlighted = null;
  function highlight(kode) {
    if (highlighted) {
      villages.resetFeatureStyle(highlighted);
    }
    highlighted = kode;
    if (kode) {
      villages.setFeatureStyle(kode, {
        fill: true, fillColor: "#ffffff", fillOpacity: 0.35, color: "#000000", weight: 3, opacity: 1
      });
    }
  }

  function setFilter(code, zoom) {
    state.kec = code || null;
    look.filter = state.kec;
    villages.redraw();
    var select = document.getElementById("area-select");
    if (select && select.value !== (state.kec || "")) {
      select.value = state.kec || "";
    }
    if (zoom && state.kec) {
      var found = areaBounds(state.kec);
      if (found) {
        map.fitBounds(found, {padding: [20, 20]});
      }
    }
    writeUrl();
    sendPresenterSoon();
  }

  // --- side panel -----------------------------------------------------------------------------

  var panel = document.getElementById("village-panel");

  function fact(list, term, value) {
    if (value === null || value === undefined || value === "") {
      return;
    }
    list.appendChild(el("dt", null, term));
    list.appendChild(el("dd", null, value));
  }

  function showDetail(detail) {
    document.getElementById("village-name").textContent = detail.name || detail.kode;
    var where = [detail.kecamatan, detail.kabupaten, detail.provinsi].filter(Boolean).join(", ");
    document.getElementById("village-where").textContent = where;
    var facts = document.getElementById("village-facts");
    clear(facts);
    var codes = detail.codes || {};
    fact(facts, T.village_code, codes.kode || detail.kode);
    fact(facts, T.kecamatan_code, codes.kecamatan_kode);
    fact(facts, T.kabupaten_code, codes.kabupaten_kode);
    fact(facts, T.provinsi_code, codes.provinsi_kode);
    if (detail.score === null || detail.score === undefined) {
      fact(facts, T.score, T.not_scored);
    } else {
      fact(facts, T.score, fmt.one.format(detail.score) + " / 100");
      fact(facts, T.need_class, detail.class_name);
      fact(facts, T.rank, text(T.rank_of, {rank: fmt.int.format(detail.rank), total: fmt.int.format(detail.ranked)}));
    }
    if (detail.facilities) {
      fact(facts, T.facilities_here, fmt.int.format(detail.facilities.total || 0));
    }
    if (detail.needs) {
      fact(facts, T.needs_here, fmt.int.format(detail.needs.total || 0) + " (" + fmt.int.format(detail.needs.open || 0) + ")");
    }
    fact(facts, T.run, detail.run);
    var reason = document.getElementById("village-reason");
    reason.textContent = detail.reason_text || "";
    reason.hidden = !detail.reason_text;
    var body = document.querySelector("#village-indicators tbody");
    clear(body);
    (detail.indicators || []).forEach(function (part) {
      var row = el("tr");
      row.setAttribute("data-indicator", part.id);
      var label = el("td", null, text(part.label, part.params));
      row.appendChild(label);
      var value = formatValue(part.raw, part.unit);
      if (part.raw !== null && part.unit_label && part.unit !== "m" && part.unit !== "share") {
        value += " " + part.unit_label;
      }
      row.appendChild(el("td", "num", value));
      var points = part.contribution === null || part.contribution === undefined
        ? T.not_counted : fmt.one.format(part.contribution);
      row.appendChild(el("td", "num", points));
      body.appendChild(row);
    });
    var notes = document.getElementById("village-notes");
    clear(notes);
    (detail.notes || []).forEach(function (item) {
      var li = el("li");
      li.appendChild(el("span", null, item.note));
      var when = String(item.created_at || "").slice(0, 10);
      li.appendChild(el("span", "muted", " (" + text(T.note_by, {author: item.author || "", date: when}) + ")"));
      notes.appendChild(li);
    });
    if (!(detail.notes || []).length) {
      notes.appendChild(el("li", "muted", T.no_notes));
    }
    panel.hidden = false;
    panel.setAttribute("data-kode", detail.kode);
  }

  function selectVillage(kode, zoomTo) {
    state.kode = kode;
    highlight(kode);
    status(T.loading);
    return fetchJSON(withQuery(hole(urls.detail, "kode", kode), {profile: state.profile}))
      .then(function (detail) {
        status("");
        showDetail(detail);
        if (zoomTo && detail.bounds) {
          var b = detail.bounds;
          map.fitBounds([[b[1], b[0]], [b[3], b[2]]], {maxZoom: 14, padding: [20, 20]});
        }
        sendPresenterSoon();
        return detail;
      })
      .catch(failed);
  }

  villages.on("click", function (e) {
    if (map.pm && map.pm.globalDrawModeEnabled()) {
      return;  // the click places a note
    }
    var props = e.layer && e.layer.properties;
    if (props && props.kode) {
      selectVillage(String(props.kode), false);
    }
  });

  document.getElementById("village-close").addEventListener("click", function () {
    panel.hidden = true;
    state.kode = null;
    highlight(null);
    sendPresenterSoon();
  });

  // --- search -----------------------------------------------------------------------------------

  var searchInput = document.getElementById("search-input");
  var searchList = document.getElementById("search-results");
  var searchAbort = null;

  function runSearch() {
    var q = searchInput.value.trim();
    clear(searchList);
    if (q.length < 2) {
      if (q.length) {
        searchList.appendChild(el("li", "muted", T.search_short));
      }
      return;
    }
    if (searchAbort) {
      searchAbort.abort();
    }
    searchAbort = new AbortController();
    fetchJSON(withQuery(urls.search, {q: q, limit: 10}), {signal: searchAbort.signal})
      .then(function (data) {
        clear(searchList);
        var results = Array.isArray(data) ? data : (data && data.villages) || [];
        if (!results.length) {
          searchList.appendChild(el("li", "muted", T.no_results));
          return;
        }
        results.forEach(function (item) {
          var li = el("li");
          var button = el("button", "search-result");
          button.type = "button";
          button.setAttribute("data-kode", item.kode);
          button.appendChild(el("strong", null, item.name || item.kode));
          var where = [item.kecamatan, item.kabupaten].filter(Boolean).join(", ");
          button.appendChild(el("span", "muted", " " + where + " · " + item.kode));
          button.addEventListener("click", function () { pickResult(item); });
          li.appendChild(button);
          searchList.appendChild(li);
        });
      })
      .catch(failed);
  }

  function pickResult(item) {
    clear(searchList);
    if (item.bounds) {
      var b = item.bounds;
      map.fitBounds([[b[1], b[0]], [b[3], b[2]]], {maxZoom: 14, padding: [20, 20]});
    }
    selectVillage(item.kode, !item.bounds);
  }

  searchInput.addEventListener("input", debounce(runSearch, 250));
  searchInput.addEventListener("keydown", function (e) {
    if (e.key === "Enter") {
      e.preventDefault();
      var first = searchList.querySelector("button.search-result");
      if (first) {
        first.click();
      } else {
        runSearch();
      }
    }
  });

  // --- kecamatan and kabupaten outlines, the area selector -------------------------------------

  var outlines = {};   // level -> {geojson layer, features, labels layer}
  var outlineRequests = {};

  function areaBounds(code) {
    var level = code.split(".").length === 3 ? "kecamatan" : "kabupaten";
    var data = outlines[level];
    if (!data) {
      return null;
    }
    var layer = data.byCode[code];
    return layer ? layer.getBounds() : null;
  }

  function loadOutlines(level) {
    if (outlineRequests[level]) {
      return outlineRequests[level];
    }
    outlineRequests[level] = fetchJSON(hole(urls.outlines, "level", level)).then(function (collection) {
      var byCode = {};
      var style = level === "kabupaten"
        ? {color: "#1d2a33", weight: 2.5, fill: false, opacity: 0.9}
        : {color: "#3c4a54", weight: 1.2, dashArray: "4 3", fill: false, opacity: 0.9};
      var shapes = L.geoJSON(collection, {
        style: style,
        interactive: false,
        onEachFeature: function (feature, layer) {
          if (feature.properties && feature.properties.kode) {
            byCode[String(feature.properties.kode)] = layer;
          }
        }
      });
      var labels = L.layerGroup();
      outlines[level] = {shapes: shapes, labels: labels, byCode: byCode, features: collection.features || []};
      layers[level].addLayer(shapes);
      layers[level].addLayer(labels);
      refreshLabels(level);
      fillAreaSelect();
      if (state.kec && areaBounds(state.kec) && !initial.z && !initialFitDone) {
        initialFitDone = true;
        map.fitBounds(areaBounds(state.kec), {padding: [20, 20]});
      }
      return outlines[level];
    }).catch(function (err) {
      delete outlineRequests[level];
      failed(err);
    });
    return outlineRequests[level];
  }
  var initialFitDone = false;

  function refreshLabels(level) {
    var data = outlines[level];
    if (!data) {
      return;
    }
    data.labels.clearLayers();
    if (!map.hasLayer(layers[level]) || map.getZoom() < MIN_LABEL_ZOOM[level]) {
      return;
    }
    var view = map.getBounds();
    var count = 0;
    Object.keys(data.byCode).some(function (code) {
      var layer = data.byCode[code];
      var point = layer.feature.properties.label_point;
      var centre = Array.isArray(point) ? L.latLng(point[1], point[0]) : layer.getBounds().getCenter();
      if (!view.contains(centre)) {
        return false;
      }
      var name = el("span", null, layer.feature.properties.name || code);
      var icon = L.divIcon({className: "area-label area-label-" + level, html: name, iconSize: null});
      data.labels.addLayer(L.marker(centre, {icon: icon, interactive: false, keyboard: false}));
      count += 1;
      return count >= MAX_LABELS;
    });
  }

  function fillAreaSelect() {
    var select = document.getElementById("area-select");
    if (!select) {
      return;
    }
    var current = state.kec || "";
    clear(select);
    var all = el("option", null, T.all_areas);
    all.value = "";
    select.appendChild(all);
    ["kabupaten", "kecamatan"].forEach(function (level) {
      var data = outlines[level];
      if (!data) {
        return;
      }
      var group = document.createElement("optgroup");
      group.label = T[level];
      var items = data.features.map(function (f) {
        return {kode: String(f.properties.kode), name: String(f.properties.name || f.properties.kode)};
      });
      items.sort(function (a, b) { return a.name.localeCompare(b.name, locale); });
      items.forEach(function (item) {
        var option = el("option", null, item.name + " · " + item.kode);
        option.value = item.kode;
        group.appendChild(option);
      });
      select.appendChild(group);
    });
    if (current && !select.querySelector('option[value="' + CSS.escape(current) + '"]')) {
      var kept = el("option", null, current);
      kept.value = current;
      select.appendChild(kept);
    }
    select.value = current;
  }

  var areaSelect = document.getElementById("area-select");
  areaSelect.addEventListener("focus", function () {
    loadOutlines("kecamatan");
    loadOutlines("kabupaten");
  });
  areaSelect.addEventListener("change", function () {
    setFilter(areaSelect.value, true);
  });

  // --- facilities and needs in view ---------------------------------------------------------------

  var pointRequests = {};

  function viewBbox() {
    var b = map.getBounds().pad(0.1);
    return [
      Math.max(-180, b.getWest()), Math.max(-90, b.getSouth()),
      Math.min(180, b.getEast()), Math.min(90, b.getNorth())
    ].map(function (v) { return v.toFixed(5); }).join(",");
  }

  function popupOf(title, lines) {
    var box = el("div", "map-popup");
    box.appendChild(el("strong", null, title));
    lines.filter(Boolean).forEach(function (line) { box.appendChild(el("div", null, line)); });
    return box;
  }

  function facilityMarker(feature) {
    var p = feature.properties || {};
    var c = feature.geometry.coordinates;
    var icon = L.AwesomeMarkers.icon({
      icon: FACILITY_ICONS[p.type] || FACILITY_ICONS.other,
      prefix: "fa",
      markerColor: SECTOR_COLOURS[p.sector] || SECTOR_COLOURS.other,
      iconColor: "white"
    });
    var marker = L.marker([c[1], c[0]], {icon: icon, title: String(p.name || "")});
    marker.bindPopup(popupOf(p.name || T.facility, [(T.types || {})[p.type] || p.type]));
    return marker;
  }

  function needMarker(feature) {
    var p = feature.properties || {};
    var c = feature.geometry.coordinates;
    var severity = Math.max(1, Math.min(5, Number(p.severity) || 1));
    var marker = L.circleMarker([c[1], c[0]], {
      radius: 5 + severity, color: "#67000d", weight: 1,
      fillColor: SEVERITY_COLOURS[severity - 1], fillOpacity: 0.9
    });
    var reported = p.reported_date ? fmt.date.format(new Date(p.reported_date)) : null;
    marker.bindPopup(popupOf((T.categories || {})[p.category] || p.category || T.need, [
      text(T.severity, {severity: severity}),
      (T.statuses || {})[p.status] || p.status,
      reported ? text(T.reported, {date: reported}) : null
    ]));
    return marker;
  }

  function loadPoints(kind) {
    var wanted = kind === "facilities"
      ? map.hasLayer(layers.facilities)
      : map.hasLayer(layers.needs) || map.hasLayer(layers.needs_heat);
    if (!wanted) {
      return;
    }
    if (pointRequests[kind]) {
      pointRequests[kind].abort();
    }
    var controller = new AbortController();
    pointRequests[kind] = controller;
    fetchJSON(withQuery(hole(urls.points, "layer", kind), {bbox: viewBbox()}), {signal: controller.signal})
      .then(function (collection) {
        var features = (collection && collection.features) || [];
        var points = features.filter(function (f) { return f.geometry && f.geometry.type === "Point"; });
        if (kind === "facilities") {
          layers.facilities.clearLayers();
          layers.facilities.addLayers(points.map(facilityMarker));
        } else {
          layers.needs.clearLayers();
          layers.needs.addLayers(points.map(needMarker));
          layers.needs_heat.setLatLngs(points.map(function (f) {
            var c = f.geometry.coordinates;
            return [c[1], c[0], Math.max(1, Math.min(5, Number(f.properties.severity) || 1)) / 5];
          }));
        }
        status(collection && collection.truncated ? text(T.truncated, {count: fmt.int.format(points.length)}) : "");
      })
      .catch(failed);
  }

  var loadPointsSoon = debounce(function () {
    loadPoints("facilities");
    loadPoints("needs");
  }, 400);

  // --- notes on the map (annotations) -----------------------------------------------------------

  var annotations = {};   // id -> layer
  var authorInput = document.getElementById("author-input");
  try {
    // notes are saved under the signed-in account; the name shown is that account's
    authorInput.value = authorInput.value || window.localStorage.getItem("jangkau.author") || "";
  } catch (err) { /* storage may be off */ }
  authorInput.addEventListener("change", function () {
    try {
      window.localStorage.setItem("jangkau.author", authorInput.value.trim());
    } catch (err) { /* storage may be off */ }
  });

  function showAnnotation(item) {
    if (!item || !item.id || annotations[item.id] || !item.geometry) {
      return;
    }
    var layer = L.geoJSON({type: "Feature", geometry: item.geometry, properties: {}}, {
      style: {color: "#6a3d9a", weight: 3, fillColor: "#cab2d6", fillOpacity: 0.35},
      pointToLayer: function (feature, latlng) {
        return L.circleMarker(latlng, {radius: 8, color: "#6a3d9a", weight: 2, fillColor: "#cab2d6", fillOpacity: 0.9});
      }
    });
    var when = item.created_at ? fmt.dateTime.format(new Date(item.created_at)) : "";
    var box = el("div", "map-popup annotation-popup");
    box.appendChild(el("p", "annotation-note", item.note));
    box.appendChild(el("div", "muted", text(T.note_by, {author: item.author || "", date: when})));
    layer.bindPopup(box);
    layer.bindTooltip(el("span", null, String(item.note).slice(0, 80)));
    layer.annotationId = item.id;
    annotations[item.id] = layer;
    layers.annotations.addLayer(layer);
  }

  function loadAnnotations() {
    return fetchJSON(urls.annotations).then(function (data) {
      var list = Array.isArray(data) ? data : (data && data.annotations) || [];
      list.forEach(showAnnotation);
    }).catch(failed);
  }

  function postAnnotation(geometry, note, author) {
    return fetchJSON(urls.annotations, {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify({geometry: geometry, note: note, author: author, kode: state.kode})
    }).then(function (item) {
      var saved = item && item.annotation ? item.annotation : item;
      showAnnotation(saved);
      status(T.note_saved);
      return saved;
    });
  }

  var form = document.getElementById("annotation-form");
  var noteInput = document.getElementById("annotation-note");
  var drawn = null;

  function closeForm() {
    if (drawn) {
      map.removeLayer(drawn);
      drawn = null;
    }
    noteInput.value = "";
    form.hidden = true;
  }

  document.getElementById("annotation-cancel").addEventListener("click", closeForm);
  document.getElementById("annotation-save").addEventListener("click", function () {
    var note = noteInput.value.trim();
    var author = authorInput.value.trim();
    if (!drawn || !note || !author) {
      status(T.note_required);
      (author ? noteInput : authorInput).focus();
      return;
    }
    try {
      window.localStorage.setItem("jangkau.author", author);
    } catch (err) { /* storage may be off */ }
    var geometry = drawn.toGeoJSON().geometry;
    postAnnotation(geometry, note, author).then(closeForm).catch(failed);
  });

  if (map.pm) {
    map.pm.setLang(config.lang, T.geoman, config.lang === "id" ? "id" : "en");
    map.on("pm:create", function (e) {
      if (drawn) {
        map.removeLayer(drawn);
      }
      drawn = e.layer;
      if (drawn.pm) {
        drawn.pm.disable();
      }
      form.hidden = false;
      noteInput.focus();
    });
  }

  // --- presenter mode and the events stream -------------------------------------------------------

  var presentButton = document.getElementById("present-toggle");
  var followBox = document.getElementById("follow-toggle");
  var presenterStatus = document.getElementById("presenter-status");

  function currentView() {
    var centre = map.getCenter();
    return {
      center: [Number(centre.lat.toFixed(6)), Number(centre.lng.toFixed(6))],
      zoom: map.getZoom(),
      profile: state.profile,
      indicator: state.indicator,
      layers: shownLayers(),
      kode: state.kode,
      kec: state.kec
    };
  }

  function sendPresenter() {
    if (!state.presenting || state.applying) {
      return;
    }
    fetchJSON(urls.presenter, {
      method: "PUT",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify({view: currentView(), author: authorInput.value.trim()})
    }).catch(failed);
  }
  var sendPresenterSoon = debounce(sendPresenter, 500);

  function applyPresenter(message) {
    if (!state.following || !message || !message.view) {
      return;
    }
    var view = message.view;
    presenterStatus.textContent = message.author ? text(T.presenter_is, {author: message.author}) : T.following;
    if (view.profile && view.profile !== state.profile) {
      // Another profile has other indicators and legend: open the page for it.
      try {
        window.sessionStorage.setItem("jangkau.follow", "1");
      } catch (err) { /* storage may be off */ }
      window.location.assign(window.location.pathname + "?" + new URLSearchParams({
        profile: view.profile, indicator: view.indicator || "", layers: (view.layers || []).join(","),
        kec: view.kec || "", z: String(view.zoom), lat: String(view.center[0]), lon: String(view.center[1])
      }).toString());
      return;
    }
    state.applying = true;
    if ((view.indicator || null) !== state.indicator) {
      applyValues(view.indicator);
    }
    if (Array.isArray(view.layers) && view.layers.length) {
      setLayers(view.layers);
    }
    if ((view.kec || null) !== state.kec) {
      setFilter(view.kec, false);
    }
    map.setView([view.center[0], view.center[1]], view.zoom);
    if (view.kode && view.kode !== state.kode) {
      selectVillage(view.kode, false);
    }
    state.applying = false;
    writeUrl();
  }

  function setFollowing(on) {
    state.following = on;
    followBox.checked = on;
    try {
      window.sessionStorage.setItem("jangkau.follow", on ? "1" : "");
    } catch (err) { /* storage may be off */ }
    if (!on) {
      presenterStatus.textContent = "";
      return;
    }
    setPresenting(false);
    presenterStatus.textContent = T.following;
    fetchJSON(urls.presenter).then(function (data) {
      var message = data && data.presenter;
      if (!message || !message.view) {
        presenterStatus.textContent = T.no_presenter;
        return;
      }
      applyPresenter(message);
    }).catch(function (err) {
      if (err && err.status === 404) {
        presenterStatus.textContent = T.no_presenter;
      } else {
        failed(err);
      }
    });
  }

  function setPresenting(on) {
    if (on && !authorInput.value.trim()) {
      status(T.note_required);
      authorInput.focus();
      return;
    }
    state.presenting = on;
    presentButton.setAttribute("aria-pressed", on ? "true" : "false");
    if (on) {
      setFollowing(false);
      presenterStatus.textContent = T.presenting;
      sendPresenter();
    } else if (!state.following) {
      presenterStatus.textContent = "";
    }
  }

  presentButton.addEventListener("click", function () { setPresenting(!state.presenting); });
  followBox.addEventListener("change", function () { setFollowing(followBox.checked); });

  var lastAnnotationTime = null;
  function handleAnnotationEvent(item) {
    if (item && item.created_at) {
      lastAnnotationTime = item.created_at;
    }
    showAnnotation(item);
  }

  function parseEvent(e) {
    try {
      return JSON.parse(e.data);
    } catch (err) {
      return null;
    }
  }

  function pollAnnotations() {
    // Used only where the events stream cannot be opened.
    fetchJSON(withQuery(urls.annotations, {since: lastAnnotationTime || ""})).then(function (data) {
      var list = Array.isArray(data) ? data : (data && data.annotations) || [];
      list.forEach(handleAnnotationEvent);
    }).catch(function () { /* try again at the next tick */ });
  }

  function openEvents() {
    if (!window.EventSource) {
      setInterval(pollAnnotations, 3000);
      return;
    }
    var source = new EventSource(urls.events);
    source.addEventListener("annotation", function (e) { handleAnnotationEvent(parseEvent(e)); });
    source.addEventListener("presenter", function (e) { applyPresenter(parseEvent(e)); });
    window.addEventListener("pagehide", function () { source.close(); });
  }

  // --- layers, map moves, the form ---------------------------------------------------------------

  function setLayers(keys) {
    config.overlays.forEach(function (key) {
      var want = keys.indexOf(key) >= 0;
      if (want && !map.hasLayer(layers[key])) {
        map.addLayer(layers[key]);
      } else if (!want && map.hasLayer(layers[key])) {
        map.removeLayer(layers[key]);
      }
    });
  }

  map.on("overlayadd", function (e) {
    if (e.layer === layers.kecamatan || e.layer === layers.kabupaten) {
      var level = e.layer === layers.kecamatan ? "kecamatan" : "kabupaten";
      loadOutlines(level);
      refreshLabels(level);
    }
    if (e.layer === layers.facilities) {
      loadPoints("facilities");
    }
    if (e.layer === layers.needs || e.layer === layers.needs_heat) {
      loadPoints("needs");
    }
  });
  map.on("overlayadd overlayremove", function () {
    writeUrlSoon();
    sendPresenterSoon();
  });
  map.on("moveend", function () {
    refreshLabels("kecamatan");
    refreshLabels("kabupaten");
    loadPointsSoon();
    writeUrlSoon();
    sendPresenterSoon();
  });

  var controls = document.getElementById("map-controls");
  controls.addEventListener("submit", function (e) { e.preventDefault(); });
  document.getElementById("indicator-select").addEventListener("change", function (e) {
    applyValues(e.target.value);
  });
  document.getElementById("profile-select").addEventListener("change", function (e) {
    // Each profile has its own run, indicators and legend: open the page for it.
    window.location.assign(pageUrl({profile: e.target.value, indicator: ""}));
  });

  // --- start: restore the view of the URL ----------------------------------------------------------

  if (window.matchMedia && window.matchMedia("(max-width: 700px)").matches && reg.control.collapse) {
    reg.control.collapse();
  }
  // The heat layer's maxZoom is the zoom of full intensity, not a limit: the layer control
  // would grey it out above that zoom. No overlay here has a zoom limit.
  map.off("zoomend", reg.control._checkDisabledLayers, reg.control);
  reg.control._checkDisabledLayers = function () {};
  if (map.attributionControl) {
    map.attributionControl.setPrefix(false);
  }
  if (Array.isArray(initial.layers)) {
    setLayers(initial.layers);
  }
  if (initial.z !== null && initial.lat !== null && initial.lon !== null) {
    map.setView([initial.lat, initial.lon], initial.z, {animate: false});
  }
  if (state.kec) {
    look.filter = state.kec;
    villages.redraw();
  }
  ["kecamatan", "kabupaten"].forEach(function (level) {
    if (map.hasLayer(layers[level]) || (state.kec && (state.kec.split(".").length === 3) === (level === "kecamatan"))) {
      loadOutlines(level);
    }
  });
  loadPoints("facilities");
  loadPoints("needs");
  loadAnnotations().then(openEvents);
  writeUrl();
  var wasFollowing = false;
  try {
    wasFollowing = window.sessionStorage.getItem("jangkau.follow") === "1";
  } catch (err) { /* storage may be off */ }
  if (wasFollowing) {
    setFollowing(true);
  }

  // A small interface for scripts and tests driving the page.
  window.JangkauMap = {
    map: map,
    layers: layers,
    state: function () { return Object.assign({}, state, {layers: shownLayers(), view: currentView()}); },
    selectVillage: selectVillage,
    showIndicator: applyValues,
    setFilter: setFilter,
    postAnnotation: postAnnotation,
    annotationIds: function () { return Object.keys(annotations); },
    follow: setFollowing,
    present: setPresenting
  };
  document.getElementById("map-page").setAttribute("data-ready", "1");
})();
