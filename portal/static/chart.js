// Link chart client: draws what /api/chart returns with cytoscape + fcose. The page works
// without this file (the tables below the canvas hold the same nodes and links).
(function () {
  "use strict";
  var box = document.getElementById("chart-canvas");
  if (!box || typeof window.cytoscape !== "function") { return; }
  if (typeof window.cytoscapeFcose === "function") { window.cytoscape.use(window.cytoscapeFcose); }

  function csrf() {
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || ""; }
    catch (e) { return ""; }
  }

  var COLOURS = { person: "#1d4ed8", vrm: "#047857", phone: "#7c3aed", postcode: "#b45309", record: "#475569", more: "#9ca3af" };

  function elements(data) {
    var out = [];
    // Group (compound) nodes first, so their members can name them as parent.
    var nodes = data.nodes.filter(function (n) { return n.kind === "group"; })
      .concat(data.nodes.filter(function (n) { return n.kind !== "group"; }));
    nodes.forEach(function (n) {
      var d = { id: n.id, label: n.kind === "group" ? n.label : n.label + (n.count ? " (" + n.count + ")" : ""), kind: n.kind, href: n.href };
      if (n.parent) { d.parent = n.parent; }
      out.push({ group: "nodes", data: d });
    });
    data.edges.forEach(function (e) {
      out.push({ group: "edges", data: { id: e.id, source: e.source, target: e.target, label: e.label + (e.count > 1 ? " ×" + e.count : ""), kind: e.kind } });
    });
    return out;
  }

  fetch(box.getAttribute("data-chart-api"), { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(function (r) { if (!r.ok) { throw new Error("chart " + r.status); } return r.json(); })
    .then(function (data) {
      box.hidden = false;
      var cy = window.cytoscape({
        container: box,
        maxZoom: 2.5,
        minZoom: 0.1,
        boxSelectionEnabled: true,
        selectionType: "additive",
        elements: elements(data),
        style: [
          { selector: "node", style: { label: "data(label)", "font-size": 9, "text-wrap": "ellipsis", "text-max-width": 120, "background-color": "#64748b", width: 22, height: 22 } },
          { selector: "node[kind = 'person']", style: { "background-color": COLOURS.person, shape: "ellipse" } },
          { selector: "node[kind = 'vrm']", style: { "background-color": COLOURS.vrm, shape: "round-rectangle" } },
          { selector: "node[kind = 'phone']", style: { "background-color": COLOURS.phone, shape: "diamond" } },
          { selector: "node[kind = 'postcode']", style: { "background-color": COLOURS.postcode, shape: "hexagon" } },
          { selector: "node[kind = 'record']", style: { "background-color": COLOURS.record, shape: "rectangle", width: 14, height: 14 } },
          { selector: "node[kind = 'more']", style: { "background-color": COLOURS.more, shape: "tag" } },
          { selector: "node[kind = 'group']", style: { "background-color": "#f1f5f9", "background-opacity": 0.6, "border-width": 2, "border-color": "#334155", "border-style": "dashed", shape: "round-rectangle", "text-valign": "top", "font-size": 11, "font-weight": "bold" } },
          { selector: "node:selected", style: { "border-width": 3, "border-color": "#f59e0b" } },
          { selector: "node:locked", style: { "border-width": 3, "border-color": "#111827" } },
          { selector: "edge", style: { width: 1.5, "line-color": "#94a3b8", label: "data(label)", "font-size": 7, "curve-style": "bezier" } },
          { selector: ".on-path", style: { "line-color": "#dc2626", "background-color": "#dc2626", width: 4 } }
        ],
        layout: { name: typeof window.cytoscapeFcose === "function" ? "fcose" : "cose", animate: false, randomize: true, padding: 40 }
      });
      window.lanternChart = cy;
      (data.paths || []).forEach(function (p) { p.forEach(function (id) { cy.getElementById(id).addClass("on-path"); }); });
      // A path page: highlight the nodes and hops of the shortest paths.
      var onPath = document.querySelectorAll("[data-path-node]");
      onPath.forEach(function (el) { var n = cy.getElementById(el.getAttribute("data-path-node")); if (n) { n.addClass("on-path"); } });
      cy.edges().forEach(function (e) {
        if (e.data("kind") === "path" || (e.source().hasClass("on-path") && e.target().hasClass("on-path") && e.data("kind") !== "appears in")) { e.addClass("on-path"); }
      });
      // A selection on the canvas ticks the same boxes the table's "Group selected" form sends.
      cy.on("select unselect", "node", function (ev) {
        var box_ = document.querySelector('#chart-group-form input[name="m"][value="' + CSS.escape(ev.target.id()) + '"]');
        if (box_) { box_.checked = ev.target.selected(); }
      });
      // Double tap: pin or unpin a node where it is. Tap: open it.
      cy.on("dbltap", "node", function (ev) { var n = ev.target; if (n.locked()) { n.unlock(); } else { n.lock(); } });
      cy.on("tap", "node", function (ev) {
        var row = document.querySelector('tr[data-node="' + CSS.escape(ev.target.id()) + '"]');
        if (row) { row.scrollIntoView({ block: "center" }); row.classList.add("chart-row-focus"); setTimeout(function () { row.classList.remove("chart-row-focus"); }, 1500); }
      });
      var png = document.getElementById("chart-png");
      if (png) {
        png.hidden = false;
        png.addEventListener("click", function () {
          // Audited first: no audit, no export.
          fetch(box.getAttribute("data-png-audit"), { method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrf() } })
            .then(function (r) {
              if (!r.ok) { throw new Error("export refused " + r.status); }
              var a = document.createElement("a");
              a.href = cy.png({ full: true, bg: "#ffffff" });
              a.download = "lantern-chart.png";
              document.body.appendChild(a); a.click(); a.remove();
            });
        });
      }
      box.setAttribute("data-ready", "true");
    })
    .catch(function () { box.hidden = true; });
})();
