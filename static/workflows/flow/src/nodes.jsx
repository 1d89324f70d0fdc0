// A step's card on the canvas: id, component, tags, problems, live status and duration, and one
// handle per input (left) and output (right) of its component, plus the control targets on top
// (after, run_if, for_each) and the "then" / "on error" sources that draw dependencies.
import React, { memo } from "react";
import { Handle, Position } from "@xyflow/react";

const STATUS_LABELS = {
  pending: "pending", waiting: "retrying", queued: "queued", running: "running", succeeded: "succeeded",
  failed: "failed", skipped: "skipped", cancelled: "cancelled", timed_out: "timed out", not_run: "not run",
};

export function formatDuration(ms) {
  if (ms == null || Number.isNaN(Number(ms))) return "";
  const value = Number(ms);
  if (value < 1000) return `${Math.round(value)} ms`;
  if (value < 60000) return `${(value / 1000).toFixed(value < 10000 ? 2 : 1)} s`;
  return `${Math.floor(value / 60000)} min ${Math.round((value % 60000) / 1000)} s`;
}

function Control({ id, step, label, title, active }) {
  return (
    <span className={`wf-control wf-control-${id}${active ? " is-set" : ""}`} title={title}>
      <Handle type="target" position={Position.Top} id={id} className={`wf-handle wf-handle-${id}`}
              data-testid={`handle-${step}-${id}`} aria-label={`${step} ${title}`} />
      {label}
    </span>
  );
}

function StepNode({ id, data, selected }) {
  const status = data.status || "";
  const classes = ["wf-node"];
  if (selected) classes.push("is-selected");
  if (data.problems) classes.push("has-problems");
  if (status) classes.push(`status-${status}`);
  return (
    <div className={classes.join(" ")} data-step-card={id} data-testid={`step-card-${id}`} data-status={status}
         data-duration-ms={data.durationMs == null ? "" : String(data.durationMs)}>
      <div className="wf-node-controls">
        <Control id="after" step={id} label="after" title="runs after" active={data.after} />
        <Control id="run_if" step={id} label="if" title="runs if" active={data.runIf} />
        <Control id="for_each" step={id} label="each" title="for each item of" active={data.forEach} />
      </div>
      <div className="wf-node-head">
        <span className="wf-node-id">{id}</span>
        {status ? <span className="wf-node-status" data-testid={`step-status-${id}`}>{STATUS_LABELS[status] || status}</span> : null}
        {data.durationMs != null ? <span className="wf-node-duration" data-testid={`step-duration-${id}`}>{formatDuration(data.durationMs)}</span> : null}
      </div>
      <div className="wf-node-component">{data.component}</div>
      {data.tags && data.tags.length ? (
        <div className="wf-node-tags">{data.tags.map((tag) => <span className="wf-tag" key={tag}>{tag}</span>)}</div>
      ) : null}
      {data.problems ? (
        <div className="wf-node-problems" data-testid={`step-problems-${id}`}>
          {data.problems === 1 ? "1 problem" : `${data.problems} problems`}
        </div>
      ) : null}
      <div className="wf-node-ports">
        <ul className="wf-ports in">
          {(data.inputs || []).map((port) => (
            <li key={port.name} className={`wf-port${port.bound ? " is-bound" : ""}`} title={`${port.name} (${port.type})`}>
              <Handle type="target" position={Position.Left} id={`in:${port.name}`} className="wf-handle wf-handle-in"
                      data-testid={`handle-${id}-in-${port.name}`} aria-label={`${id} input ${port.name}`} />
              <span className="wf-port-name">{port.name}</span>
              <span className="wf-port-type">{port.type}</span>
            </li>
          ))}
        </ul>
        <ul className="wf-ports out">
          {(data.outputs || []).map((port) => (
            <li key={port.name} className="wf-port" title={`${port.name} (${port.type})`}>
              <span className="wf-port-type">{port.type}</span>
              <span className="wf-port-name">{port.name}</span>
              <Handle type="source" position={Position.Right} id={`out:${port.name}`} className="wf-handle wf-handle-out"
                      data-testid={`handle-${id}-out-${port.name}`} aria-label={`${id} output ${port.name}`} />
            </li>
          ))}
        </ul>
      </div>
      <div className="wf-node-sources">
        <span className="wf-source-then" title="drag to a step's 'after' to run it after this one">
          then
          <Handle type="source" position={Position.Bottom} id="then" className="wf-handle wf-handle-then"
                  data-testid={`handle-${id}-then`} aria-label={`${id} then`} />
        </span>
        <span className="wf-source-error" title="drag to a step to make it this step's error handler">
          on error
          <Handle type="source" position={Position.Bottom} id="error" className="wf-handle wf-handle-error"
                  data-testid={`handle-${id}-error`} aria-label={`${id} on error`} />
        </span>
      </div>
    </div>
  );
}

export const nodeTypes = { step: memo(StepNode) };
