// Chat API types and one streamed answer: the SSE events of a turn, with reconnection
// (Last-Event-ID) when the connection drops before the answer's done or error event.
'use client';

import { ApiError, authFetch, errorOf } from './api';
import { readSse } from './sse';

export interface Citation {
  number: number;
  space_id: string;
  document_id: string;
  title: string;
  page: number;
  heading_path: string;
  char_start: number;
  char_end: number;
  snippet: string;
}

export interface Message {
  id: string;
  seq: number;
  role: 'user' | 'assistant' | string;
  content: string;
  citations: Citation[];
  model: string;
  usage?: { prompt_tokens: number; completion_tokens: number };
  status: string; // complete | streaming | cancelled | failed | superseded
  error: string;
  created_at: string;
}

export interface Conversation {
  id: string;
  title: string;
  model: string;
  persona_id: string;
  spaces: string[];
  created_at: string;
  updated_at: string;
}

export interface StreamHandlers {
  onStart?: (messageId: string) => void;
  onStatus?: (status: string) => void;
  onCitation?: (c: Citation) => void;
  onToken?: (text: string) => void;
  onDone?: (d: { message_id: string; model: string; finish_reason: string }) => void;
  onError?: (e: { code: string; message: string }) => void;
  onConnection?: (state: 'lost' | 'restored') => void;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    });
  });

// Runs one answer: `start` opens the stream (send, regenerate, edit). Throws an ApiError
// when the request is refused before any event.
export async function streamAnswer(
  conversationId: string,
  start: () => Promise<Response>,
  h: StreamHandlers,
  signal: AbortSignal,
  maxReconnects = 8,
): Promise<void> {
  let res = await start();
  if (!res.ok) throw await errorOf(res);
  const messageId = res.headers.get('X-Message-Id') || '';
  if (messageId) h.onStart?.(messageId);
  let lastId = 0;
  let finished = false;
  let failures = 0;
  for (;;) {
    try {
      await readSse(
        res,
        (e) => {
          if (e.id) lastId = Math.max(lastId, Number(e.id) || 0);
          failures = 0;
          let data: Record<string, unknown> = {};
          try {
            data = JSON.parse(e.data);
          } catch {
            /* ignore a malformed event */
          }
          switch (e.event) {
            case 'status':
              h.onStatus?.(String(data.status ?? ''));
              break;
            case 'citation':
              h.onCitation?.(data as unknown as Citation);
              break;
            case 'token':
              h.onToken?.(String(data.text ?? ''));
              break;
            case 'done':
              finished = true;
              h.onDone?.(data as never);
              break;
            case 'error':
              finished = true;
              h.onError?.({ code: String(data.code ?? 'internal'), message: String(data.message ?? '') });
              break;
          }
        },
        signal,
      );
    } catch (e) {
      if (signal.aborted) return;
      /* the connection dropped: reconnect below */
    }
    if (finished || signal.aborted) return;
    // The stream ended before the answer did: re-attach and resume after the last event.
    h.onConnection?.('lost');
    for (;;) {
      if (!messageId || failures >= maxReconnects) {
        h.onError?.({ code: 'connection_lost', message: '' });
        return;
      }
      await sleep(Math.min(500 * 2 ** failures, 8000), signal);
      if (signal.aborted) return;
      failures++;
      try {
        res = await authFetch(`/api/v1/conversations/${conversationId}/messages/${messageId}/events`, {
          headers: { 'Last-Event-ID': String(lastId), Accept: 'text/event-stream' },
          signal,
        });
      } catch (e) {
        if (signal.aborted) return;
        if (e instanceof ApiError && e.status === 401) return;
        continue;
      }
      if (res.status === 404) {
        // The turn is no longer live (finished long ago): the stored message is the record.
        h.onError?.({ code: 'turn_gone', message: '' });
        return;
      }
      if (!res.ok) continue;
      h.onConnection?.('restored');
      break;
    }
  }
}

// The parts of an answer's text: plain text and [n] citation markers.
export function splitMarkers(text: string): Array<string | number> {
  const out: Array<string | number> = [];
  const re = /\[(\d{1,3})\]/g;
  let last = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text))) {
    if (m.index > last) out.push(text.slice(last, m.index));
    out.push(Number(m[1]));
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

// A snippet's **bold** parts (the matched words) as [text, bold] pairs.
export function boldParts(snippet: string): Array<[string, boolean]> {
  return snippet.split('**').map((part, i) => [part, i % 2 === 1] as [string, boolean]).filter(([p]) => p !== '');
}
