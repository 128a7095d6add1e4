// Timeline client: one zoomable axis (vis-timeline), grouped by record type; each item
// opens its record. The table below holds the same items without JavaScript.
(function () {
  "use strict";
  var box = document.getElementById("timeline-canvas");
  if (!box || !window.vis || !window.vis.Timeline) { return; }
  fetch(box.getAttribute("data-timeline-api"), { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(function (r) { if (!r.ok) { throw new Error("timeline " + r.status); } return r.json(); })
    .then(function (data) {
      box.hidden = false;
      var hrefs = {};
      var items = data.items.map(function (i) {
        hrefs[i.id] = i.href;
        // content as text, never HTML: vis-timeline would otherwise render markup.
        var el = document.createElement("span");
        el.textContent = i.content + (i.reference ? " · " + i.reference : "");
        return { id: i.id, group: i.group, start: i.start, content: el, className: "tl-" + i.kind };
      });
      var times = data.items.map(function (i) { return Date.parse(i.start); }).filter(function (t) { return !isNaN(t); });
      var lo = Math.min.apply(null, times), hi = Math.max.apply(null, times);
      var pad = Math.max((hi - lo) * 0.05, 6 * 3600 * 1000);
      var tl = new window.vis.Timeline(box, new window.vis.DataSet(items), new window.vis.DataSet(data.groups),
        { stack: true, zoomable: true, maxHeight: 600, start: new Date(lo - pad), end: new Date(hi + pad) });
      tl.on("select", function (props) {
        if (props.items && props.items.length === 1 && hrefs[props.items[0]]) { window.location.href = hrefs[props.items[0]]; }
      });
      window.lanternTimeline = tl;
      box.setAttribute("data-ready", "true");
    })
    .catch(function () { box.hidden = true; });
})();
