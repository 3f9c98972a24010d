/* The map page's "Print / PDF" control: keeps the download links of the printed map
 * (/workspaces/<ws>/map/export.pdf|png) in step with the view the page's URL carries
 * (profile, indicator, centre and zoom: the part in view becomes the printed bbox) and with
 * the paper, orientation and resolution chosen. No data text is written into the page. */
(function () {
  "use strict";

  var page = document.getElementById("map-page");
  var pdf = document.getElementById("print-pdf");
  var png = document.getElementById("print-png");
  if (!page || !pdf || !png) {
    return;
  }
  var main = document.getElementById("map-main") || page;

  function value(id) {
    var element = document.getElementById(id);
    return element ? element.value : "";
  }

  /* The lon/lat box seen at zoom z around (lat, lon) in a frame of w x h pixels. */
  function viewBox(lat, lon, z, w, h) {
    var scale = 256 * Math.pow(2, z);
    var halfLon = (w / 2) * 360 / scale;
    var y = Math.log(Math.tan(Math.PI / 4 + (lat * Math.PI / 180) / 2));
    var dy = (h / 2) * 2 * Math.PI / scale;
    function toLat(v) { return Math.atan(Math.sinh(v)) * 180 / Math.PI; }
    var box = [
      Math.max(-180, lon - halfLon),
      Math.max(-85, toLat(y - dy)),
      Math.min(180, lon + halfLon),
      Math.min(85, toLat(y + dy))
    ];
    return box.every(isFinite) && box[0] < box[2] && box[1] < box[3] ? box : null;
  }

  function href(fmt) {
    var current = new URLSearchParams(window.location.search);
    var params = new URLSearchParams();
    ["profile", "indicator"].forEach(function (key) {
      if (current.get(key)) {
        params.set(key, current.get(key));
      }
    });
    var state = document.getElementById("map-state");
    if (!params.get("profile") && state) {
      try {
        var parsed = JSON.parse(state.textContent);
        if (parsed.profile) { params.set("profile", parsed.profile); }
        if (parsed.indicator) { params.set("indicator", parsed.indicator); }
      } catch (e) { /* the links keep the server's profile */ }
    }
    var z = parseFloat(current.get("z"));
    var lat = parseFloat(current.get("lat"));
    var lon = parseFloat(current.get("lon"));
    if (isFinite(z) && isFinite(lat) && isFinite(lon)) {
      var box = viewBox(lat, lon, z, main.clientWidth || 800, main.clientHeight || 600);
      if (box) {
        params.set("bbox", box.map(function (v) { return v.toFixed(5); }).join(","));
      }
    }
    params.set("paper", value("print-paper") || "A4");
    params.set("orientation", value("print-orientation") || "portrait");
    params.set("dpi", value("print-dpi") || "150");
    params.set("lang", page.getAttribute("data-lang") || "id");
    var base = "/workspaces/" + encodeURIComponent(page.getAttribute("data-workspace")) +
      "/map/export." + fmt;
    return base + "?" + params.toString();
  }

  function refresh() {
    pdf.setAttribute("href", href("pdf"));
    png.setAttribute("href", href("png"));
  }

  ["print-paper", "print-orientation", "print-dpi"].forEach(function (id) {
    var element = document.getElementById(id);
    if (element) {
      element.addEventListener("change", refresh);
    }
  });
  /* The map writes its view into the URL as it moves: read it when a link is used. */
  pdf.addEventListener("click", refresh);
  png.addEventListener("click", refresh);
  pdf.addEventListener("focus", refresh);
  png.addEventListener("focus", refresh);
  refresh();
}());
