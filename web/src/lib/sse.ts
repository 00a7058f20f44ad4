// Server-Sent Events over fetch (EventSource can neither POST nor send an Authorization
// header): parses a response body into events as the text/event-stream format defines.
'use client';

export interface SseEvent {
  id: string | null;
  event: string;
  data: string;
}

export async function readSse(res: Response, onEvent: (e: SseEvent) => void, signal?: AbortSignal): Promise<void> {
  if (!res.body) return;
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  const onAbort = () => reader.cancel().catch(() => {});
  signal?.addEventListener('abort', onAbort);
  let buffer = '';
  let event = '';
  let data: string[] = [];
  let id: string | null = null;
  const line = (l: string) => {
    if (l === '') {
      if (data.length > 0) onEvent({ id, event: event || 'message', data: data.join('\n') });
      event = '';
      data = [];
      id = null;
      return;
    }
    if (l.startsWith(':')) return;
    const colon = l.indexOf(':');
    const field = colon < 0 ? l : l.slice(0, colon);
    let value = colon < 0 ? '' : l.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
    else if (field === 'id') id = value;
  };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let at: number;
      while ((at = buffer.search(/\r\n|\r|\n/)) >= 0) {
        const len = buffer[at] === '\r' && buffer[at + 1] === '\n' ? 2 : 1;
        // A lone \r at the end may be the first half of \r\n: wait for more.
        if (buffer[at] === '\r' && at + 1 === buffer.length) break;
        line(buffer.slice(0, at));
        buffer = buffer.slice(at + len);
      }
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  if (signal?.aborted) throw new DOMException('aborted', 'AbortError');
}
