// Behest dashboard: small progressive enhancements. Every page works without this file;
// it adds confirmations, copy buttons, a download link and the playground's stream.
'use strict';

document.addEventListener('submit', (event) => {
  const form = event.target;
  const question = form.getAttribute('data-confirm');
  if (question && !window.confirm(question)) event.preventDefault();
});

document.addEventListener('click', async (event) => {
  const button = event.target.closest('[data-copy]');
  if (!button) return;
  const source = document.getElementById(button.getAttribute('data-copy'));
  if (!source) return;
  const text = source.value !== undefined && source.tagName !== 'CODE' ? source.value : source.textContent;
  try {
    await navigator.clipboard.writeText(text.trim());
    button.textContent = 'Copied';
  } catch (err) {
    button.textContent = 'Copy failed: select the text and copy it';
  }
});

// A private key offered as a file, built in the page so it never travels twice.
for (const link of document.querySelectorAll('a[data-download]')) {
  const source = document.getElementById(link.getAttribute('data-download'));
  if (!source) continue;
  const blob = new Blob([source.value ?? source.textContent], { type: 'application/x-pem-file' });
  link.href = URL.createObjectURL(blob);
  link.hidden = false;
}

// The guard's findings header (rules and entity types, never text) in words.
function describeGuard(header) {
  if (!header) return '';
  let g;
  try { g = JSON.parse(header); } catch { return ''; }
  const parts = [];
  if (g.sentinel) parts.push(`sentinel ${g.sentinel_mode || ''}: ${g.sentinel.join(', ')}`);
  if (g.pii) parts.push(`PII ${g.pii_mode || ''}: ${Object.entries(g.pii).map(([k, n]) => `${k}×${n}`).join(', ')}`);
  if (g.action) parts.push(`action: ${g.action}`);
  return parts.join('; ');
}

// The playground: post the message, read the SSE stream, grow the answer token by token.
const playground = document.getElementById('playground');
if (playground) {
  const answer = document.getElementById('answer');
  const tokens = document.getElementById('tokens');
  const outcome = document.getElementById('outcome');
  playground.addEventListener('submit', async (event) => {
    event.preventDefault();
    const message = playground.elements.message.value.trim();
    if (!message) return;
    const send = playground.querySelector('button[type=submit]');
    send.disabled = true;
    answer.textContent = '';
    tokens.textContent = '…';
    outcome.textContent = 'Streaming…';
    try {
      const response = await fetch(playground.getAttribute('data-stream'), {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'X-CSRF-Token': playground.elements._csrf.value,
          'X-User-Id': playground.elements.user_id.value || 'playground',
        },
        body: JSON.stringify({
          messages: [{ role: 'user', content: message }],
          stream_options: { include_usage: true },
        }),
      });
      const guard = describeGuard(response.headers.get('x-behest-guard'));
      if (!response.ok) {
        const body = await response.json().catch(() => ({}));
        const error = body.error || {};
        outcome.textContent = `Refused: ${response.status} ${error.code || ''} — ${error.message || ''}${guard ? ` (${guard})` : ''}`;
        tokens.textContent = '0';
        return;
      }
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      let usage = null;
      let failure = null;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          for (const line of frame.split('\n')) {
            if (!line.startsWith('data:')) continue;
            const data = line.slice(5).trim();
            if (data === '[DONE]') continue;
            let chunk;
            try { chunk = JSON.parse(data); } catch { continue; }
            if (chunk.error) failure = chunk.error;
            const delta = chunk.choices && chunk.choices[0] && chunk.choices[0].delta;
            if (delta && delta.content) answer.textContent += delta.content;
            if (chunk.usage) usage = chunk.usage;
          }
        }
      }
      tokens.textContent = usage
        ? `${usage.prompt_tokens} prompt + ${usage.completion_tokens} completion = ${usage.total_tokens}`
        : 'not reported';
      outcome.textContent = failure
        ? `Ended with an error: ${failure.code || ''} — ${failure.message || ''}`
        : `Completed; ${guard || 'the guards found nothing'}`;
    } catch (err) {
      outcome.textContent = `Failed: ${err.message}`;
    } finally {
      send.disabled = false;
    }
  });
}
