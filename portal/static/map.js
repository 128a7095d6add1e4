// Map client: Leaflet. With no tile server configured (the default) nothing is fetched from
// the internet: the base layer is a plain grid drawn on canvas in the page, with a scale. With
// one (LANTERN_MAP_TILE_URL, whose origin the CSP's img-src then names) its tiles are the base.
// Clusters come from the server (/api/map: geotile_grid through the access filter) for the
// visible box and zoom.
// The table below the map holds the same clusters without JavaScript.
(function () {
  "use strict";
  var box = document.getElementById("map-canvas");
  if (!box || !window.L) { return; }
  var L = window.L;
  var api = box.getAttribute("data-map-api");
  var sep = api.indexOf("?") >= 0 ? "&" : "?";

  var Grid = L.GridLayer.extend({
    createTile: function (coords) {
      var tile = document.createElement("canvas");
      var size = this.getTileSize();
      tile.width = size.x;
      tile.height = size.y;
      var ctx = tile.getContext("2d");
      ctx.strokeStyle = "#c8cacb";
      ctx.lineWidth = 1;
      ctx.strokeRect(0.5, 0.5, size.x, size.y);
      // The tile's north-west corner, so the grid reads as latitude/longitude.
      var nw = this._map.unproject(coords.scaleBy(size), coords.z);
      ctx.fillStyle = "#6f777b";
      ctx.font = "11px sans-serif";
      ctx.fillText(nw.lat.toFixed(3) + ", " + nw.lng.toFixed(3), 4, 13);
      return tile;
    }
  });

  var tiles = box.getAttribute("data-tile-url");
  var attribution = box.getAttribute("data-tile-attribution") || "";
  var map = L.map(box, { attributionControl: !!(tiles && attribution), worldCopyJump: false, minZoom: 2, maxZoom: 18 });
  if (tiles) {
    // Attribution as text (Leaflet would insert it as HTML).
    L.tileLayer(tiles, { maxZoom: 18 }).addTo(map);
    if (attribution) {
      map.attributionControl.setPrefix(false);
      map.attributionControl.addAttribution(attribution.replace(/[<>&"]/g, ""));
    }
  } else {
    new Grid({ tileSize: 256 }).addTo(map);
  }
  L.control.scale({ metric: true, imperial: true }).addTo(map);
  var clusters = L.layerGroup().addTo(map);
  var seq = 0;

  function popup(cell) {
    var div = document.createElement("div");
    var head = document.createElement("p");
    head.textContent = cell.count + (cell.count === 1 ? " record" : " records") + " here";
    div.appendChild(head);
    var ul = document.createElement("ul");
    cell.records.forEach(function (r) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = r.href;
      a.textContent = (r.reference || r.title || "record") + (r.date ? " · " + r.date.slice(0, 10) : "");
      li.appendChild(a);
      ul.appendChild(li);
    });
    div.appendChild(ul);
    if (cell.count > cell.records.length) {
      var more = document.createElement("p");
      more.textContent = "Zoom in to see the other " + (cell.count - cell.records.length) + ".";
      div.appendChild(more);
    }
    return div;
  }

  // The middle of a grid cell "zoom/x/y". Cells are requested at the map's zoom + 2 (64 px),
  // so markers at cell middles (at most 48 px wide) never overlap: every cluster stays a
  // separate target of at least 24 px (WCAG 2.5.8), which centroids near a cell edge broke.
  function cellMiddle(key) {
    var p = key.split("/").map(Number);
    var n = Math.pow(2, p[0]);
    var lon = (p[1] + 0.5) / n * 360 - 180;
    var lat = Math.atan(Math.sinh(Math.PI * (1 - 2 * (p[2] + 0.5) / n))) * 180 / Math.PI;
    return [lat, lon];
  }

  function draw(data) {
    clusters.clearLayers();
    data.cells.forEach(function (cell) {
      var d = Math.min(48, Math.round(24 + 8 * Math.log(cell.count) / Math.LN10));
      var label = document.createElement("span");
      label.textContent = String(cell.count);
      var marker = L.marker(cellMiddle(cell.key), {
        icon: L.divIcon({ className: "map-cluster", html: label, iconSize: [d, d] }),
        keyboard: true,
        title: cell.count + " record(s)"
      });
      marker.bindPopup(popup(cell));
      marker.on("click", function () { marker.openPopup(); });
      clusters.addLayer(marker);
    });
    box.setAttribute("data-cells", String(data.cells.length));
    box.setAttribute("data-ready", "true");
  }

  function load() {
    var b = map.getBounds();
    var bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) { return v.toFixed(5); }).join(",");
    var mine = ++seq;
    box.setAttribute("data-ready", "false");
    fetch(api + sep + "z=" + map.getZoom() + "&bbox=" + bbox, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error("map " + r.status); } return r.json(); })
      .then(function (data) { if (mine === seq) { draw(data); } })
      .catch(function () { box.setAttribute("data-ready", "error"); });
  }

  fetch(api + sep + "z=10", { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(function (r) { if (!r.ok) { throw new Error("map " + r.status); } return r.json(); })
    .then(function (data) {
      box.hidden = false;
      map.invalidateSize();
      if (data.bounds) {
        var sw = [data.bounds.south, data.bounds.west], ne = [data.bounds.north, data.bounds.east];
        map.fitBounds([sw, ne], { padding: [30, 30], maxZoom: 15 });
      } else {
        map.setView([51.5, -0.12], 10);
      }
      map.on("moveend", load);
      load();
      window.lanternMap = map;
    })
    .catch(function () { box.hidden = true; });
})();
