// Differential driver: runs the reference's resetHistory (@openai/agents-realtime 0.20.0)
// on many (old, new) pairs in one node process, and reports what it sent.
//
//   node reset_history_driver.mjs <dir holding node_modules>
//
// stdin, one JSON object a line:  {"old": [RealtimeItem...], "new": [RealtimeItem...]}
//   (the reference's camelCase item JSON, as harness.items.item_to_json writes it)
// stdout, one JSON line each:     {"events": [...], "warnings": [...], "refused": null | "message"}
//
// Or {"sequence": [{"old": [...], "new": [...]}, ...]}: successive resetHistory calls on
// one transport whose events are never answered, so each call plans with the requests
// of the calls before it still pending; answered with {"runs": [{"events": ...}, ...]}.
//
// Each pair gets a fresh transport, never connected, so no request is pending. Its
// public sendEvent is replaced on the instance to record each event instead of sending
// it: resetHistory reaches the wire only through this.sendEvent (openaiRealtimeBase.ts,
// #sendHistoryRequest), so nothing else of the reference is touched. Its logger warns
// through console.warn, which is recorded the same way.

import { createRequire } from 'node:module';
import path from 'node:path';
import readline from 'node:readline';

const nodeDir = process.argv[2];
const require = createRequire(path.join(path.resolve(nodeDir), 'package.json'));
const { OpenAIRealtimeWebSocket } = require('@openai/agents-realtime');

let warnings = [];
console.warn = (...args) => {
  warnings.push(args.map(String).join(' '));
};

function fresh() {
  const transport = new OpenAIRealtimeWebSocket({ model: 'gpt-realtime' });
  transport.recorded = [];
  transport.sendEvent = (event) => {
    transport.recorded.push(JSON.parse(JSON.stringify(event)));
  };
  return transport;
}

function run(pair, transport = fresh()) {
  const events = transport.recorded = [];
  warnings = [];
  let refused = null;
  try {
    transport.resetHistory(pair.old, pair.new);
  } catch (error) {
    refused = `${error.name}: ${error.message}`;
  }
  return { events, warnings, refused };
}

const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.on('line', (line) => {
  if (!line.trim()) return;
  let answer;
  try {
    const request = JSON.parse(line);
    if (request.sequence) {
      const transport = fresh();
      answer = { runs: request.sequence.map((pair) => run(pair, transport)) };
    } else {
      answer = run(request);
    }
  } catch (error) {
    answer = { crash: String(error && error.stack ? error.stack : error) };
  }
  process.stdout.write(JSON.stringify(answer) + '\n');
});
