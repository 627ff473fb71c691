// The entity page's neighbourhood view: cytoscape.js (vendored) over /api/neighbourhood/<id>.
(function () {
  var box = document.getElementById("graph");
  if (!box || typeof cytoscape === "undefined") { return; }
  var colours = {Disease: "#c0392b", Phenotype: "#2874a6", Gene: "#1e8449", Drug: "#7d3c98",
                 Category: "#7f8c8d", Modifier: "#b9770e", Concept: "#5d6d7e"};
  fetch("/api/neighbourhood/" + encodeURIComponent(box.dataset.id).replace(/%3A/g, ":"))
    .then(function (r) { return r.json(); })
    .then(function (data) {
      var cy = cytoscape({
        container: box,
        elements: data.nodes.concat(data.edges),
        style: [
          {selector: "node", style: {"label": "data(label)", "font-size": 9, "width": 14, "height": 14,
            "background-color": function (n) { return colours[n.data("kind")] || "#999"; },
            "text-wrap": "ellipsis", "text-max-width": 110}},
          {selector: "node[role = 'centre']", style: {"width": 26, "height": 26, "font-weight": "bold"}},
          {selector: "edge", style: {"width": 1, "line-color": "#bbb", "curve-style": "bezier",
            "target-arrow-shape": "triangle", "target-arrow-color": "#bbb", "arrow-scale": 0.6,
            "label": "data(rel)", "font-size": 6, "color": "#888"}}
        ],
        layout: {name: "concentric", concentric: function (n) { return n.data("role") === "centre" ? 2 : 1; },
                 levelWidth: function () { return 1; }, minNodeSpacing: 18}
      });
      cy.on("tap", "node", function (evt) {
        var id = evt.target.id();
        if (id !== box.dataset.id) { window.location.href = "/entity/" + encodeURIComponent(id).replace(/%3A/g, ":"); }
      });
      box.dataset.ready = String(data.nodes.length);
    });
})();
