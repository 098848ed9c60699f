// The answer's guard through the stock `openai` Node SDK: a blocked term mid-stream
// ends the iteration with an APIError (after only the text before it), and a masked
// value comes back in a restored stream. Run by crates/behest/tests/answer_guard.rs,
// which deploys the settings and passes BEHEST_TEST_BASE_URL and BEHEST_TEST_TOKEN.
import OpenAI from 'openai';
import assert from 'node:assert/strict';

const client = new OpenAI({
  baseURL: process.env.BEHEST_TEST_BASE_URL,
  apiKey: process.env.BEHEST_TEST_TOKEN,
  maxRetries: 0,
});
const reversed = (text) => 'spell-reversed:' + [...text].reverse().join('');

const answer = 'All good so far, and the codename is Project Titan, which ships soon.';
let got = '';
let raised = null;
try {
  const stream = await client.chat.completions.create({
    model: 'anything',
    messages: [{ role: 'user', content: reversed(answer) }],
    stream: true,
  });
  for await (const chunk of stream) {
    for (const choice of chunk.choices) got += choice.delta?.content ?? '';
  }
} catch (err) {
  raised = err;
}
assert.ok(raised instanceof OpenAI.APIError, `an APIError, got ${raised}`);
assert.match(String(raised.message), /blocklist:0/);
assert.ok(answer.startsWith(got) && !got.includes('Project'), got);

const stream = await client.chat.completions.create({
  model: 'anything',
  messages: [{ role: 'user', content: 'spell:Sure, I will mail ada@example.com today.' }],
  stream: true,
});
let text = '';
for await (const chunk of stream) {
  for (const choice of chunk.choices) text += choice.delta?.content ?? '';
}
assert.equal(text, 'Sure, I will mail ada@example.com today.');
console.log('answer guard: 2 checks passed');
