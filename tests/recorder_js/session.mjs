// One text turn with the JS SDK's transport (@openai/agents-realtime 0.20.0) under node,
// for the recorder tests: connect to URL with KEY, send TEXT, wait for the turn to end and
// for both session.update answers (the initial config and the tracing one, which the SDK
// sends concurrently and which may be answered after the turn), close, and print every
// server event the transport saw as one JSON array on stdout.
//
//   node session.mjs <dir holding node_modules> <url> <api key> <text>

import { createRequire } from 'node:module';
import path from 'node:path';

const [nodeDir, url, apiKey, text] = process.argv.slice(2);
const require = createRequire(path.join(path.resolve(nodeDir), 'package.json'));
const { OpenAIRealtimeWebSocket } = require('@openai/agents-realtime');

const seen = [];
const transport = new OpenAIRealtimeWebSocket();
let settle;
const settled = new Promise((resolve) => {
  settle = resolve;
});
let turnDone = false;
const check = () => {
  const updated = seen.filter((event) => event.type === 'session.updated').length;
  if (turnDone && updated >= 2) settle();
};
transport.on('*', (event) => {
  seen.push(event);
  check();
});
transport.on('turn_done', () => {
  turnDone = true;
  check();
});
const failed = new Promise((_, reject) =>
  transport.on('error', (event) => reject(new Error(JSON.stringify(event.error ?? event)))),
);

const timer = setTimeout(() => {
  process.stderr.write('timed out waiting for turn_done\n');
  process.exit(3);
}, 10_000);

await transport.connect({ apiKey, url, model: 'gpt-realtime' });
transport.sendMessage(text);
await Promise.race([settled, failed]);
transport.close();
clearTimeout(timer);
process.stdout.write(JSON.stringify(seen) + '\n');
