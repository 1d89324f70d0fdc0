// The workflow canvas's geometry: dagre lays the steps out top to bottom from their measured
// sizes; edges become SVG paths with an arrowhead. Cards stay HTML, positioned absolutely.
(function (root) {
  "use strict";

  const MARGIN = 16;
  const EMPTY = { positions: {}, svg: "", width: 0, height: 0 };

  function escape(text) {
    return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  }

  // A smooth path through dagre's points: straight ends, quadratic curves through the bends.
  function pathOf(points) {
    if (!points.length) return "";
    let d = `M${points[0].x.toFixed(1)},${points[0].y.toFixed(1)}`;
    for (let i = 1; i < points.length - 1; i += 1) {
      const here = points[i];
      const next = points[i + 1];
      const midX = (here.x + next.x) / 2;
      const midY = (here.y + next.y) / 2;
      d += ` Q${here.x.toFixed(1)},${here.y.toFixed(1)} ${midX.toFixed(1)},${midY.toFixed(1)}`;
    }
    const last = points[points.length - 1];
    return `${d} L${last.x.toFixed(1)},${last.y.toFixed(1)}`;
  }

  const DEFS =
    '<defs><marker id="wf-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">' +
    '<path d="M0,0 L10,5 L0,10 z" class="wf-arrowhead"/></marker>' +
    '<marker id="wf-arrow-error" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">' +
    '<path d="M0,0 L10,5 L0,10 z" class="wf-arrowhead error"/></marker></defs>';

  // steps: [{id}], edges: [{from, to, kind}], sizes: {id: {width, height}}.
  function layout(steps, edges, sizes) {
    if (!steps.length) return EMPTY;
    if (!root.dagre) throw new Error("static/vendor/dagre/dagre.min.js is not loaded");
    const graph = new root.dagre.graphlib.Graph({ multigraph: false });
    graph.setGraph({ rankdir: "TB", nodesep: 28, ranksep: 56, marginx: MARGIN, marginy: MARGIN });
    graph.setDefaultEdgeLabel(() => ({}));
    for (const step of steps) {
      const size = sizes[step.id] || { width: 220, height: 90 };
      graph.setNode(step.id, { width: size.width, height: size.height });
    }
    for (const edge of edges) graph.setEdge(edge.from, edge.to, { kind: edge.kind });
    root.dagre.layout(graph);
    const positions = {};
    for (const step of steps) {
      const node = graph.node(step.id);
      positions[step.id] = { x: node.x - node.width / 2, y: node.y - node.height / 2 };
    }
    const paths = graph.edges().map((e) => {
      const label = graph.edge(e);
      const kind = label.kind || "data";
      const marker = kind === "error" ? "wf-arrow-error" : "wf-arrow";
      return `<path class="wf-edge ${escape(kind)}" data-from="${escape(e.v)}" data-to="${escape(e.w)}" ` +
        `d="${pathOf(label.points || [])}" marker-end="url(#${marker})"/>`;
    });
    const info = graph.graph();
    return { positions, svg: DEFS + paths.join(""), width: Math.ceil(info.width || 0), height: Math.ceil(info.height || 0) };
  }

  root.WorkflowCanvas = { layout };
})(window);
