// Calls the platform through the original npm package `synchronise@1.0.8`, unchanged.
//
// Usage: node run.js <package dir> '<JSON list of calls>'
// where a call is {"key": "pk_…", "kind": "Component" | "Workflow", "id": 12, "params": {…}}.
// The calls run one after the other; prints one JSON line: for each call, which callback fired
// (`success`, `error`, or null when neither did) with what, and how many times `always` fired.
// The package talks to https://api.synchronise.io: the test points that host at its own server
// through HTTPS_PROXY, which the package's `request` honours.
"use strict";

const path = require("path");
const Synchronise = require(path.resolve(process.argv[2], "node_modules", "synchronise"));
const calls = JSON.parse(process.argv[3]);

function one(call) {
    return new Promise((resolve) => {
        const seen = { fired: null, data: null, always: 0 };
        const client = Synchronise(call.key);
        client[call.kind].run(call.id, call.params, {
            success: (data) => { seen.fired = seen.fired ? "both" : "success"; seen.data = data; },
            error: (error) => { seen.fired = seen.fired ? "both" : "error"; seen.data = error; },
            always: () => {
                seen.always += 1;
                // Give a callback that would (wrongly) fire later the chance to be seen.
                setTimeout(() => resolve(seen), 50);
            },
        });
    });
}

(async () => {
    const results = [];
    for (const call of calls) {
        results.push(await one(call));
    }
    process.stdout.write(JSON.stringify(results) + "\n");
})();
