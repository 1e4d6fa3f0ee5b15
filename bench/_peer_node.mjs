// A bench peer: the reference JS SDK's OpenAIRealtimeWebSocket receiving the workload.
//
//   node bench/_peer_node.mjs <dir holding node_modules> <url> <expected audio events>
//
// Connects (its session.update is the server's cue to send), counts `audio` events (the
// SDK decodes every delta's base64 into an ArrayBuffer before emitting it), and prints one
// JSON line: events/s by wall clock and per CPU second of this process, timed from the
// first server event to the last audio event, as bench_transport.py times ours.
import { createRequire } from 'node:module';
import path from 'node:path';

const [nodeDir, url, expectedText] = process.argv.slice(2);
const require = createRequire(path.join(path.resolve(nodeDir), 'package.json'));
const { OpenAIRealtimeWebSocket } = require('@openai/agents-realtime');

const expected = Number(expectedText);
let count = 0;
let started = 0n;
let cpuStarted = null;
const transport = new OpenAIRealtimeWebSocket();
transport.on('*', () => {
  if (cpuStarted === null) {
    started = process.hrtime.bigint();
    cpuStarted = process.cpuUsage();
  }
});
const done = new Promise((resolve) => {
  transport.on('audio', () => {
    count += 1;
    if (count === expected) {
      const wall = Number(process.hrtime.bigint() - started) / 1e9;
      const cpu = process.cpuUsage(cpuStarted);
      resolve({ wall, cpu: (cpu.user + cpu.system) / 1e6 });
    }
  });
  transport.on('disconnected', () => resolve(null));
});
await transport.connect({ apiKey: 'bench', url, model: 'bench' });
const result = await done;
transport.close();
if (result === null) {
  process.stdout.write(JSON.stringify({ error: `got ${count} of ${expected} audio events` }) + '\n');
  process.exit(1);
}
process.stdout.write(
  JSON.stringify({ wall: (expected - 1) / result.wall, cpu: (expected - 1) / result.cpu }) + '\n',
);
process.exit(0);
