// Plays a cassette's client side against the fake server, as a browser app would talk to
// the Realtime API: `new WebSocket(url, ['realtime', 'openai-insecure-api-key.' + key])`.
//
// Causal order, per recorded connection: each recorded client frame is sent once every
// server frame recorded before it (on that connection) has arrived; each server frame that
// arrives must have the recorded type; a recorded server close must arrive with its code.
// The verdict ("PASS: ..." or "FAIL: ...") goes in #verdict; window.playerResult holds
// what the page saw, for tests.

const WAIT_MS = 10_000; // the longest the page waits for any one server frame

const params = new URLSearchParams(location.search);
const log = document.getElementById('log');
const note = (line) => {
  log.textContent += line + '\n';
};

function parseCassette(text, name) {
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  const header = JSON.parse(lines[0]);
  if (header.format !== 'realtime-harness-cassette') {
    throw new Error(`${name}:1: not a realtime-harness cassette`);
  }
  const conns = new Map();
  lines.slice(1).forEach((line, i) => {
    const frame = JSON.parse(line);
    frame.lineno = i + 2;
    if (!conns.has(frame.conn)) conns.set(frame.conn, []);
    conns.get(frame.conn).push(frame);
  });
  return [...conns.keys()].sort((a, b) => a - b).map((conn) => conns.get(conn));
}

function base64Bytes(text) {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

// One connection: resolves with what it saw, rejects with the first divergence.
function playConnection(frames, url, key) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ['realtime', 'openai-insecure-api-key.' + key]);
    const recordedServer = frames.filter((f) => f.side === 'server' && !f.close);
    // serverBefore[i]: how many server frames (closes aside) are recorded before frame i
    const serverBefore = [];
    frames.reduce((count, f) => {
      serverBefore.push(count);
      return count + (f.side === 'server' && !f.close ? 1 : 0);
    }, 0);
    const seen = { protocol: null, received: [], sent: 0, close: null };
    let arrived = 0; // server frames received so far
    let next = 0; // index of the next recorded frame to act on
    let timer = null;

    const fail = (message) => {
      clearTimeout(timer);
      try {
        ws.close();
      } catch {}
      reject(new Error(message));
    };
    const waitFor = (frame) => {
      clearTimeout(timer);
      timer = setTimeout(
        () => fail(`line ${frame.lineno}: no ${frame.side} frame within ${WAIT_MS} ms`),
        WAIT_MS,
      );
    };
    // Step over the server frames that arrived; send each client frame they released.
    const advance = () => {
      while (next < frames.length) {
        const frame = frames[next];
        if (frame.side === 'server') {
          if (frame.close || arrived <= serverBefore[next]) {
            waitFor(frame); // not here yet (a close is handled by onclose)
            return;
          }
          next += 1;
          continue;
        }
        next += 1;
        if (frame.close) {
          // a browser may only send 1000 or 3000-4999; any client close matches on replay
          const code = frame.close.code >= 3000 ? frame.close.code : 1000;
          ws.close(code);
        } else if (frame.binary !== undefined) {
          ws.send(base64Bytes(frame.binary));
          seen.sent += 1;
        } else {
          ws.send(JSON.stringify(frame.event));
          seen.sent += 1;
        }
      }
      clearTimeout(timer);
    };

    ws.binaryType = 'arraybuffer';
    ws.onopen = () => {
      seen.protocol = ws.protocol;
      advance();
    };
    ws.onmessage = (message) => {
      const expected = recordedServer[arrived];
      const type =
        typeof message.data === 'string' ? JSON.parse(message.data).type : '(binary)';
      seen.received.push(type);
      if (expected === undefined) {
        return fail(`received ${type}, but the recording has no more server frames`);
      }
      const want = expected.binary !== undefined ? '(binary)' : expected.event.type;
      if (type !== want) {
        return fail(`line ${expected.lineno}: expected server ${want}, received ${type}`);
      }
      arrived += 1;
      advance();
    };
    ws.onerror = () => note('websocket error event');
    ws.onclose = (event) => {
      clearTimeout(timer);
      seen.close = { code: event.code, reason: event.reason };
      const last = frames[frames.length - 1];
      if (arrived < recordedServer.length) {
        const missing = recordedServer[arrived];
        return reject(
          new Error(`closed (${event.code}) before line ${missing.lineno} (${missing.event?.type})`),
        );
      }
      if (last.side === 'server' && last.close && event.code !== last.close.code) {
        return reject(
          new Error(`line ${last.lineno}: expected close ${last.close.code}, got ${event.code}`),
        );
      }
      resolve(seen);
    };
  });
}

async function main() {
  const name = params.get('cassette');
  const response = await fetch(name);
  if (!response.ok) throw new Error(`${name}: HTTP ${response.status}`);
  const conns = parseCassette(await response.text(), name);
  const result = { connections: [] };
  window.playerResult = result;
  let count = 0;
  for (const frames of conns) {
    const seen = await playConnection(frames, params.get('url'), params.get('key'));
    note(`connection ${result.connections.length}: ${seen.received.length} server frames`);
    result.connections.push(seen);
    count += frames.length;
  }
  const n = conns.length;
  return `PASS: ${name}: ${count} frames played on ${n} connection${n === 1 ? '' : 's'}`;
}

const verdict = document.getElementById('verdict');
main().then(
  (text) => {
    verdict.textContent = text;
  },
  (error) => {
    verdict.textContent = `FAIL: ${error.message}`;
  },
);
