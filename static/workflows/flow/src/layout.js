// Auto-layout: dagre (static/vendor/dagre, window.dagre) ranks the cards left to right from their
// measured sizes. With `keep` (the cards already placed), only the others move: they go in a
// column to the right of what is there, in dagre's order.
const GAP = 60;

export function layoutPositions(nodes, edges, keep) {
  if (!nodes.length) return {};
  if (!window.dagre) throw new Error("static/vendor/dagre/dagre.min.js is not loaded");
  const graph = new window.dagre.graphlib.Graph({ multigraph: false });
  graph.setGraph({ rankdir: "LR", nodesep: 40, ranksep: 90, marginx: 20, marginy: 20 });
  graph.setDefaultEdgeLabel(() => ({}));
  const size = (node) => ({
    width: (node.measured && node.measured.width) || 260,
    height: (node.measured && node.measured.height) || 140,
  });
  for (const node of nodes) graph.setNode(node.id, size(node));
  for (const edge of edges) {
    if (edge.source !== edge.target && graph.hasNode(edge.source) && graph.hasNode(edge.target)) {
      graph.setEdge(edge.source, edge.target);
    }
  }
  window.dagre.layout(graph);
  const positions = {};
  for (const node of nodes) {
    const at = graph.node(node.id);
    positions[node.id] = { x: Math.round(at.x - at.width / 2), y: Math.round(at.y - at.height / 2) };
  }
  if (!keep) return positions;
  const kept = new Set(keep.map((node) => node.id));
  const right = Math.max(...keep.map((node) => node.position.x + size(node).width));
  const top = Math.min(...keep.map((node) => node.position.y));
  const placed = {};
  let y = top;
  const fresh = nodes.filter((node) => !kept.has(node.id)).sort((a, b) => positions[a.id].x - positions[b.id].x);
  for (const node of fresh) {
    placed[node.id] = { x: Math.round(right + GAP), y: Math.round(y) };
    y += size(node).height + GAP / 2;
  }
  return placed;
}
