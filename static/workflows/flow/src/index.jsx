// The workflow canvas island: @xyflow/react renders the steps and their edges; the page's Alpine
// editor (static/workflows/editor.js) owns the draft and is told what the user did.
//
//   const flow = window.SynchroniseFlow.mount(element, {
//     onSelect(id | null),                   // a card was clicked (null: the empty canvas)
//     onMove(id, {x, y}),                    // a card was dropped somewhere else
//     onConnect({source, sourceHandle, target, targetHandle, point}),
//                                            // a handle was dragged onto a handle (targetHandle set)
//                                            // or onto a card's body (targetHandle null)
//     onLayout({id: {x, y}}),                // auto-layout placed every card
//     onDropComponent(key, {x, y}),          // a catalog entry was dropped on the canvas
//     onDelete(id), onUndo(),                // Delete / Backspace, Ctrl/Cmd+Z on the canvas
//   });
//   flow.update({nodes, edges, selectedId, canEdit});  // nodes: [{id, position?, data}],
//                                                       // edges: [{id, source, sourceHandle, target, targetHandle, kind}]
//   flow.fitView(); flow.layout(); flow.freePosition(); flow.destroy();
//
// Cards without a position are placed by dagre (static/vendor/dagre, window.dagre) on first show.
import React, { useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore } from "react";
import { createRoot } from "react-dom/client";
import {
  Background, Controls, MarkerType, MiniMap, ReactFlow, ReactFlowProvider, applyNodeChanges, useReactFlow,
} from "@xyflow/react";
import { nodeTypes } from "./nodes.jsx";
import { layoutPositions } from "./layout.js";

const KIND_LABELS = { for_each: "for each", run_if: "if", error: "on error" };
const EDGE_COLOURS = { data: "#667085", after: "#98a2b3", run_if: "#b54708", for_each: "#4f46e5", error: "#d92d20" };

// On a phone a whole graph fitted in 350 px would be unreadable: not below half size there (pan
// to see the rest), and never above full size anywhere.
function fitOptions(element) {
  return { padding: 0.15, maxZoom: 1, minZoom: element && element.clientWidth < 600 ? 0.5 : 0.2 };
}

function createStore(initial) {
  let state = initial;
  const listeners = new Set();
  return {
    get: () => state,
    set(next) { state = next; listeners.forEach((listener) => listener()); },
    subscribe(listener) { listeners.add(listener); return () => listeners.delete(listener); },
  };
}

function edgeOf(edge) {
  const colour = EDGE_COLOURS[edge.kind] || EDGE_COLOURS.data;
  return {
    id: edge.id,
    source: edge.source,
    sourceHandle: edge.sourceHandle,
    target: edge.target,
    targetHandle: edge.targetHandle,
    className: `wf-edge ${edge.kind}`,
    type: "default",
    animated: edge.kind === "run_if",
    label: KIND_LABELS[edge.kind],
    labelBgPadding: [4, 2],
    labelBgBorderRadius: 4,
    labelStyle: { fill: colour, fontWeight: 700, fontSize: 11 },
    style: { stroke: colour },
    // The marker scales with the stroke: the thick for_each edge takes a smaller one.
    markerEnd: { type: MarkerType.ArrowClosed, color: colour, width: edge.kind === "for_each" ? 6 : 16, height: edge.kind === "for_each" ? 6 : 16 },
    data: { kind: edge.kind },
    focusable: false,
    deletable: false,
    selectable: false,
  };
}

function Flow({ store, callbacks, api }) {
  const state = useSyncExternalStore(store.subscribe, store.get);
  const flow = useReactFlow();
  const [nodes, setNodes] = useState([]);
  const placed = useRef({});  // positions the island chose for cards the draft has not placed
  const pendingLayout = useRef(false);
  // Fit the view once, when the draft's first cards are measured; an empty canvas stays at zoom 1
  // with its origin top left, so a card lands exactly where it is dropped.
  const fitted = useRef(false);

  // The draft's cards, at their saved position, else where the island placed them before.
  useEffect(() => {
    setNodes((current) => {
      const byId = Object.fromEntries(current.map((node) => [node.id, node]));
      return state.nodes.map((node) => {
        const before = byId[node.id];
        const position = node.position || placed.current[node.id] || (before && before.position) || null;
        if (!position) pendingLayout.current = true;
        return {
          ...(before || {}),
          id: node.id,
          type: "step",
          data: node.data,
          position: position || { x: 0, y: 0 },
          selected: node.id === state.selectedId,
          ariaLabel: `Step ${node.id}, ${node.data.component}${node.data.status ? `, ${node.data.status}` : ""}: Enter selects it`,
          draggable: state.canEdit,
          connectable: state.canEdit,
          deletable: false,
          style: position ? undefined : { visibility: "hidden" },
        };
      });
    });
  }, [state]);

  const edges = useMemo(() => state.edges.map(edgeOf), [state.edges]);

  // Place the cards nobody placed yet, once React Flow has measured them.
  useEffect(() => {
    if (!state.ready || nodes.length !== state.nodes.length) return;  // setNodes not applied yet
    const measured = nodes.filter((node) => node.measured && node.measured.width);
    if (measured.length !== nodes.length) return;
    if (!fitted.current) {
      fitted.current = true;
      if (nodes.length && !pendingLayout.current) requestAnimationFrame(() => flow.fitView(fitOptions(api.element)));
    }
    if (!pendingLayout.current) return;
    pendingLayout.current = false;
    const known = nodes.filter((node) => !(node.style && node.style.visibility === "hidden"));
    const positions = layoutPositions(nodes, state.edges, known.length ? known : null);
    Object.assign(placed.current, positions);
    setNodes((current) => current.map((node) => (
      positions[node.id] ? { ...node, position: positions[node.id], style: undefined } : node
    )));
    if (!known.length) requestAnimationFrame(() => flow.fitView(fitOptions(api.element)));
  }, [nodes, state.ready, state.edges, flow]);

  const onNodesChange = useCallback((changes) => {
    setNodes((current) => applyNodeChanges(changes.filter((c) => c.type === "position" || c.type === "dimensions"), current));
    // A card moved with the arrow keys (a finished move: not dragging) is kept like a dragged one;
    // the editor ignores a report of the place a card already has.
    for (const change of changes) {
      if (change.type === "position" && change.position && change.dragging === false && callbacks.onMove) {
        placed.current[change.id] = change.position;
        callbacks.onMove(change.id, { x: Math.round(change.position.x), y: Math.round(change.position.y) });
      }
    }
  }, [callbacks]);

  const onNodeDragStop = useCallback((event, node) => {
    placed.current[node.id] = node.position;
    callbacks.onMove && callbacks.onMove(node.id, { x: Math.round(node.position.x), y: Math.round(node.position.y) });
  }, [callbacks]);

  const onConnect = useCallback((connection) => {
    callbacks.onConnect && callbacks.onConnect({ ...connection, point: null });
  }, [callbacks]);

  // Dropped off every handle: onto a card's body opens the editor's picker.
  const onConnectEnd = useCallback((event, connection) => {
    if (connection.isValid || !connection.fromNode) return;
    const point = "changedTouches" in event && event.changedTouches.length ? event.changedTouches[0] : event;
    const under = document.elementFromPoint(point.clientX, point.clientY);
    const card = under && under.closest(".react-flow__node");
    if (!card || card.dataset.id === connection.fromNode.id) return;
    callbacks.onConnect && callbacks.onConnect({
      source: connection.fromNode.id,
      sourceHandle: connection.fromHandle ? connection.fromHandle.id : null,
      target: card.dataset.id,
      targetHandle: null,
      point: { x: point.clientX, y: point.clientY },
    });
  }, [callbacks]);

  const layout = useCallback(() => {
    const positions = layoutPositions(flow.getNodes(), store.get().edges, null);
    Object.assign(placed.current, positions);
    setNodes((current) => current.map((node) => (positions[node.id] ? { ...node, position: positions[node.id] } : node)));
    callbacks.onLayout && callbacks.onLayout(positions);
    requestAnimationFrame(() => flow.fitView({ ...fitOptions(api.element), duration: 200 }));
  }, [flow, store, callbacks]);

  // Where a new card goes: the middle of what the canvas shows, shifted so cards do not pile up.
  const freePosition = useCallback(() => {
    const box = api.element.getBoundingClientRect();
    const centre = flow.screenToFlowPosition({ x: box.left + box.width / 2, y: box.top + box.height / 3 });
    const taken = flow.getNodes().map((node) => node.position);
    let at = { x: Math.round(centre.x - 120), y: Math.round(centre.y - 40) };
    while (taken.some((p) => Math.abs(p.x - at.x) < 60 && Math.abs(p.y - at.y) < 60)) at = { x: at.x + 40, y: at.y + 60 };
    return at;
  }, [flow, api]);

  useEffect(() => {
    api.fitView = () => flow.fitView({ ...fitOptions(api.element), duration: 200 });
    api.layout = layout;
    api.freePosition = freePosition;
    api.screenToFlow = (x, y) => flow.screenToFlowPosition({ x, y });
  }, [api, flow, layout, freePosition]);

  const onDragOver = useCallback((event) => {
    if (!state.canEdit || !event.dataTransfer.types.includes("application/x-synchronise-component")) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
  }, [state.canEdit]);

  const onDrop = useCallback((event) => {
    const key = event.dataTransfer.getData("application/x-synchronise-component");
    if (!key || !state.canEdit) return;
    event.preventDefault();
    const at = flow.screenToFlowPosition({ x: event.clientX, y: event.clientY });
    callbacks.onDropComponent && callbacks.onDropComponent(key, { x: Math.round(at.x), y: Math.round(at.y) });
  }, [flow, callbacks, state.canEdit]);

  const onKeyDown = useCallback((event) => {
    const field = event.target.closest && event.target.closest("input, textarea, select, [contenteditable]");
    if (field) return;
    // A card reached with Tab is selected with Enter or Space, as the old card buttons were.
    const card = event.target.closest && event.target.closest(".react-flow__node");
    if ((event.key === "Enter" || event.key === " ") && card) {
      event.preventDefault();
      callbacks.onSelect && callbacks.onSelect(card.dataset.id);
      return;
    }
    if ((event.key === "Delete" || event.key === "Backspace") && state.canEdit && state.selectedId) {
      event.preventDefault();
      callbacks.onDelete && callbacks.onDelete(state.selectedId);
    } else if ((event.ctrlKey || event.metaKey) && !event.shiftKey && event.key.toLowerCase() === "z" && state.canEdit) {
      event.preventDefault();
      callbacks.onUndo && callbacks.onUndo();
    }
  }, [state.canEdit, state.selectedId, callbacks]);

  return (
    <div className="wf-flow-frame" onKeyDown={onKeyDown} onDragOver={onDragOver} onDrop={onDrop}>
      <ReactFlow
        nodes={nodes}
        edges={edges}
        nodeTypes={nodeTypes}
        onNodesChange={onNodesChange}
        onNodeClick={(event, node) => callbacks.onSelect && callbacks.onSelect(node.id)}
        onPaneClick={() => callbacks.onSelect && callbacks.onSelect(null)}
        onNodeDragStop={onNodeDragStop}
        onConnect={onConnect}
        onConnectEnd={onConnectEnd}
        connectionMode="strict"
        connectionRadius={18}
        deleteKeyCode={null}
        selectionKeyCode={null}
        multiSelectionKeyCode={null}
        nodesDraggable={state.canEdit}
        nodesConnectable={state.canEdit}
        elementsSelectable
        minZoom={0.2}
        maxZoom={2}
        proOptions={{ hideAttribution: false }}
      >
        <Background gap={18} size={1} />
        <Controls showInteractive={false} />
        <MiniMap pannable zoomable ariaLabel="Minimap of the workflow" className="wf-minimap"
                 nodeClassName={(node) => `wf-minimap-node status-${(node.data && node.data.status) || "none"}`} />
      </ReactFlow>
    </div>
  );
}

function mount(element, callbacks) {
  const store = createStore({ nodes: [], edges: [], selectedId: null, canEdit: false, ready: false });
  const api = {
    element,
    update(state) { store.set({ ...store.get(), ...state, ready: true }); },
    fitView() {},
    layout() {},
    freePosition() { return { x: 0, y: 0 }; },
    screenToFlow(x, y) { return { x, y }; },
    destroy() { root.unmount(); },
  };
  const root = createRoot(element);
  root.render(
    <ReactFlowProvider>
      <Flow store={store} callbacks={callbacks || {}} api={api} />
    </ReactFlowProvider>,
  );
  return api;
}

window.SynchroniseFlow = { mount };
