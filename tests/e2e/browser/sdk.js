// The node recipe's weather agent, in a browser: the SDK's OpenAIRealtimeWebSocket
// authenticates with subprotocols here (`useInsecureApiKey`: a real app uses an ephemeral
// `ek_` key; the fake server takes any).
import { OpenAIRealtimeWebSocket } from './openai-realtime-agents.mjs';

const params = new URLSearchParams(location.search);
const weatherTool = {
  type: 'function',
  name: 'get_weather',
  description: 'Get the current weather for a city.',
  parameters: {
    type: 'object',
    properties: { city: { type: 'string' } },
    required: ['city'],
    additionalProperties: false,
  },
};
// The cassette's tool output was written by Python's json.dumps: the text must be equal.
const getWeather = ({ city }) => `{"city": "${city}", "temperature_c": 18, "conditions": "sunny"}`;

async function main() {
  const transport = new OpenAIRealtimeWebSocket({ useInsecureApiKey: true });
  const result = { tools: [], answer: null };
  window.sdkResult = result;
  const text = [];
  let turns = 0;
  const finished = new Promise((resolve, reject) => {
    setTimeout(() => reject(new Error('no answer within 10 s')), 10_000);
    transport.on('error', (event) => reject(new Error(JSON.stringify(event.error))));
    transport.on('function_call', (call) => {
      result.tools.push([call.name, call.arguments]);
      transport.sendFunctionCallOutput(call, getWeather(JSON.parse(call.arguments)), true);
    });
    transport.on('output_text_delta', (event) => text.push(event.delta));
    transport.on('turn_done', () => ++turns === 2 && resolve());
  });
  await transport.connect({
    apiKey: params.get('key'),
    url: params.get('url'),
    model: 'gpt-realtime',
    initialSessionConfig: {
      instructions: 'Use the tools to answer weather questions.',
      outputModalities: ['text'],
      tools: [weatherTool],
    },
  });
  transport.sendMessage("What's the weather in Paris?");
  try {
    await finished;
  } finally {
    transport.close();
  }
  result.answer = text.join('');
  return `PASS: ${result.answer}`;
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
