// Overview of a workspace: one outline per layer's bounding box, drawn with Leaflet
// (served by this app) on a plain background; no tiles, no requests elsewhere.
(function () {
  "use strict";
  var element = document.getElementById("overview-map");
  var source = document.getElementById("overview-data");
  if (!element || !source || typeof L === "undefined") {
    return;
  }
  var extents = JSON.parse(source.textContent);
  if (!extents.length) {
    return;
  }
  var colours = {villages: "#0b6e4f", facilities: "#1f5fa8", needs: "#b3261e", indicators: "#8a5a00"};
  var map = L.map(element, {attributionControl: false, zoomSnap: 0.25});
  var all = L.latLngBounds([]);
  extents.forEach(function (item) {
    var b = item.bounds; // [minx, miny, maxx, maxy] in degrees (EPSG:4326)
    var bounds = L.latLngBounds([b[1], b[0]], [b[3], b[2]]);
    L.rectangle(bounds, {color: colours[item.kind] || "#333", weight: 2, fillOpacity: 0.05})
      .bindTooltip(item.name)
      .addTo(map);
    all.extend(bounds);
  });
  map.fitBounds(all.pad(0.05));
  element.setAttribute("data-ready", "1");
})();
