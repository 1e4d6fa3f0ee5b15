// Conformance driver: runs the reference transport (@openai/agents-realtime 0.20.0) under
// node, one call at a time, as the Python runner (conformance_runner.py) tells it.
//
//   node driver.mjs <dir holding node_modules>
//
// stdin, one JSON command a line:
//   {"op": "construct", "options": {...}, "redirect": "ws://127.0.0.1:PORT" | null}
//   {"op": "call", "id": N, "step": {"call": "send_message", ...}}
//   {"op": "clock", "ms": N}                 set the fake Date.now()
//   {"op": "exit"}
// stdout, one JSON line each:
//   {"kind": "event", "name": "...", "args": [...]}   every emit() of the transport
//   {"kind": "ack", "id": N, "ok": bool, "error": "...", "status": "...", "result": ...}
//
// Sync markers: a server event {"type": "__sync__"} is answered, once the event loop has
// run what it queued (setImmediate), with a client event {"type": "__sync__"} carrying
// the same event_id; after each call the driver sends one too. The runner uses them to
// know every frame a step caused has arrived. Neither is recorded.

import { createRequire } from 'node:module';
import path from 'node:path';
import readline from 'node:readline';

const nodeDir = process.argv[2];
const require = createRequire(path.join(path.resolve(nodeDir), 'package.json'));
const { OpenAIRealtimeWebSocket } = require('@openai/agents-realtime');
const { WebSocket } = require('ws');

let fakeNow = 1_000_000;
Date.now = () => fakeNow;

const out = (obj) => process.stdout.write(JSON.stringify(obj, replacer) + '\n');

function replacer(_key, value) {
  if (value instanceof ArrayBuffer) {
    return { $bytes: Buffer.from(value).toString('base64') };
  }
  if (ArrayBuffer.isView(value)) {
    return { $bytes: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  }
  if (value instanceof Error) {
    return { $error: value.message };
  }
  if (value && typeof value === 'object' && value.constructor && value.constructor.name === 'ErrorEvent') {
    return { $error: value.message ?? String(value.error) };
  }
  return value;
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

let transport = null;
let markerCount = 0;
const listeners = new Map();

function construct(options, redirect) {
  const opts = { ...options };
  if (redirect) {
    // The reference's own hook: record the URL it asked for, connect to the capture server.
    opts.createWebSocket = async ({ url, apiKey }) => {
      out({ kind: 'event', name: '__create_websocket__', args: [url] });
      const u = new URL(url);
      return new WebSocket(redirect + u.pathname + u.search, {
        headers: { Authorization: `Bearer ${apiKey}` },
      });
    };
  }
  transport = new OpenAIRealtimeWebSocket(opts);
  const originalEmit = transport.emit.bind(transport);
  transport.emit = (name, ...args) => {
    if (name === '*' && args[0] && args[0].type === '__sync__') {
      const eventId = args[0].event_id;
      flush().then(() => {
        try {
          transport.sendEvent({ type: '__sync__', event_id: eventId });
        } catch {
          // disconnected meanwhile: the runner does not wait then
        }
      });
      return originalEmit(name, ...args);
    }
    if (name === '__sync__') {
      return originalEmit(name, ...args);
    }
    out({ kind: 'event', name, args });
    return originalEmit(name, ...args);
  };
  // node's EventEmitter throws on an unheard "error"; a real app listens.
  transport.on('error', () => {});
}

function toolCall(obj) {
  return obj;
}

async function call(step) {
  const t = transport;
  switch (step.call) {
    case 'connect': {
      const o = step.options ?? {};
      const options = {};
      if ('apiKey' in o) options.apiKey = o.apiKey;
      if ('apiKeyFunction' in o) options.apiKey = async () => o.apiKeyFunction;
      if ('model' in o) options.model = o.model;
      if ('url' in o) options.url = o.url;
      if ('callId' in o) options.callId = o.callId;
      if ('initialSessionConfig' in o) options.initialSessionConfig = o.initialSessionConfig;
      return await t.connect(options);
    }
    case 'close':
      return t.close();
    case 'send_event':
      return t.sendEvent(step.event);
    case 'send_message':
      return t.sendMessage(step.message, step.other ?? {}, 'trigger_response' in step ? { triggerResponse: step.trigger_response } : {});
    case 'add_image':
      return t.addImage(step.image, 'trigger_response' in step ? { triggerResponse: step.trigger_response } : {});
    case 'send_audio': {
      const buf = Buffer.from(step.audio_b64, 'base64');
      const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
      return t.sendAudio(ab, 'commit' in step ? { commit: step.commit } : {});
    }
    case 'update_session_config':
      return t.updateSessionConfig(step.config);
    case 'send_function_call_output':
      return 'start_response' in step
        ? t.sendFunctionCallOutput(toolCall(step.tool_call), step.output, step.start_response)
        : t.sendFunctionCallOutput(toolCall(step.tool_call), step.output);
    case 'send_mcp_response':
      return 'reason' in step
        ? t.sendMcpResponse(step.approval_request, step.approved, step.reason)
        : t.sendMcpResponse(step.approval_request, step.approved);
    case 'request_response':
      return 'response' in step ? t.requestResponse(step.response) : t.requestResponse();
    case 'interrupt':
      return 'cancel' in step ? t.interrupt(step.cancel) : t.interrupt();
    case '_interrupt':
      return 'cancel' in step ? t._interrupt(step.elapsed, step.cancel) : t._interrupt(step.elapsed);
    case '_cancel_response':
      return t._cancelResponse();
    case 'mute':
      return t.mute(step.muted);
    case 'reset_history':
      return t.resetHistory(step.old, step.new);
    case 'set_current_model':
      t.currentModel = step.model;
      return undefined;
    case 'set_tracing_config':
      t._tracingConfig = step.value;
      return undefined;
    case 'props':
      return { status: t.status, currentModel: t.currentModel, muted: t.muted, connectionStatus: t.connectionState.status };
    case 'emit':
      return t.emit(step.event, ...(step.args ?? []));
    case 'on':
    case 'once': {
      const label = step.label;
      const fn = (...args) => out({ kind: 'event', name: '__listener__', args: [label, step.event, ...args] });
      listeners.set(label, fn);
      t[step.call](step.event, fn);
      return undefined;
    }
    case 'off':
      t.off(step.event, listeners.get(step.label));
      return undefined;
    default:
      throw new Error(`driver: unknown call ${step.call}`);
  }
}

const rl = readline.createInterface({ input: process.stdin });
const queue = [];
let busy = false;

async function handle(cmd) {
  if (cmd.op === 'construct') {
    construct(cmd.options ?? {}, cmd.redirect);
    out({ kind: 'ack', id: cmd.id, ok: true, status: transport.status });
  } else if (cmd.op === 'clock') {
    fakeNow = cmd.ms;
    out({ kind: 'ack', id: cmd.id, ok: true, status: transport.status });
  } else if (cmd.op === 'call') {
    let ok = true;
    let error;
    let result;
    try {
      result = await call(cmd.step);
    } catch (e) {
      ok = false;
      error = e && e.message !== undefined ? e.message : String(e);
    }
    await flush();
    await flush();
    let marker = null;
    if (transport.status === 'connected') {
      markerCount += 1;
      marker = `call_${cmd.id}`;
      try {
        transport.sendEvent({ type: '__sync__', event_id: marker });
      } catch {
        marker = null;
      }
    }
    out({ kind: 'ack', id: cmd.id, ok, error, status: transport.status, result: result === undefined ? null : result, marker });
  } else if (cmd.op === 'exit') {
    try {
      transport?.close();
    } catch {
      // ignore
    }
    await flush();
    process.exit(0);
  }
}

async function pump() {
  if (busy) return;
  busy = true;
  while (queue.length) {
    await handle(queue.shift());
  }
  busy = false;
}

rl.on('line', (line) => {
  if (!line.trim()) return;
  queue.push(JSON.parse(line));
  pump();
});
