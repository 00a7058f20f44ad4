// The chat screen: conversation list with search, model, persona and space pickers,
// streamed answers with numbered sources, stop, regenerate and feedback.
'use client';

import { useCallback, useEffect, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';
import Dialog from '@/components/Dialog';
import Notice, { useErrorText } from '@/components/Notice';
import { api, authFetch } from '@/lib/api';
import { boldParts, splitMarkers, streamAnswer, type Citation, type Conversation, type Message } from '@/lib/chat';
import { formatDate, useI18n } from '@/lib/i18n';

interface Model {
  id: string;
  display_name?: string;
  capabilities?: string[];
  available?: boolean;
}
interface Persona {
  id: string;
  name: string;
  role: string;
}
interface Space {
  id: string;
  name: string;
  access: string;
}

interface Settings {
  model: string;
  persona_id: string;
  spaces: string[];
}

const LIVE = 'live-answer';

function setUrlConversation(id: string | null) {
  const url = id ? `/chat/?c=${encodeURIComponent(id)}` : '/chat/';
  window.history.replaceState(null, '', url);
}

export default function ChatView() {
  const { t, lang } = useI18n();
  const errorText = useErrorText();
  const [conversations, setConversations] = useState<Conversation[]>([]);
  const [search, setSearch] = useState('');
  const [activeId, setActiveId] = useState<string | null>(null);
  const [messages, setMessages] = useState<Message[]>([]);
  const [models, setModels] = useState<Model[]>([]);
  const [personas, setPersonas] = useState<Persona[]>([]);
  const [spaces, setSpaces] = useState<Space[]>([]);
  const [settings, setSettings] = useState<Settings>({ model: '', persona_id: 'kaya', spaces: [] });
  const [draft, setDraft] = useState('');
  const [streaming, setStreaming] = useState(false);
  const [phase, setPhase] = useState('');
  const [connection, setConnection] = useState<'ok' | 'lost' | 'restored'>('ok');
  const [error, setError] = useState('');
  const [feedback, setFeedback] = useState<Record<string, number>>({});
  const [openCitation, setOpenCitation] = useState<Citation | null>(null);
  const [listOpen, setListOpen] = useState(false);
  const liveId = useRef(LIVE);
  const abort = useRef<AbortController | null>(null);
  const bottom = useRef<HTMLDivElement>(null);
  const input = useRef<HTMLTextAreaElement>(null);

  // --- loading --------------------------------------------------------------------------
  const loadConversations = useCallback(async (q: string) => {
    try {
      const r = await api<{ items: Conversation[] }>('GET', `/api/v1/conversations?limit=100&search=${encodeURIComponent(q)}`);
      setConversations(r.items);
    } catch (e) {
      setError(errorText(e));
    }
  }, []); // eslint-disable-line react-hooks/exhaustive-deps

  useEffect(() => {
    const timer = setTimeout(() => loadConversations(search), search ? 250 : 0);
    return () => clearTimeout(timer);
  }, [search, loadConversations]);

  useEffect(() => {
    api<{ data: Model[] }>('GET', '/v1/models')
      .then((r) =>
        setModels(
          r.data.filter(
            (m) => (m.capabilities ?? []).includes('chat') && !m.id.startsWith('rag:') && !m.id.startsWith('persona:'),
          ),
        ),
      )
      .catch((e) => setError(errorText(e)));
    api<{ items: Persona[] }>('GET', '/api/v1/personas')
      .then((r) => setPersonas(r.items))
      .catch(() => {});
    api<{ items: Space[] }>('GET', '/api/v1/spaces')
      .then((r) => setSpaces(r.items))
      .catch(() => {});
    const c = new URLSearchParams(window.location.search).get('c');
    if (c) openConversation(c);
    return () => abort.current?.abort();
  }, []); // eslint-disable-line react-hooks/exhaustive-deps

  useEffect(() => {
    bottom.current?.scrollIntoView({ block: 'end' });
  }, [messages]);

  const visible = (items: Message[]) => items.filter((m) => m.status !== 'superseded');

  async function openConversation(id: string) {
    abort.current?.abort();
    setStreaming(false);
    setError('');
    setConnection('ok');
    setListOpen(false);
    try {
      const [c, m] = await Promise.all([
        api<Conversation>('GET', `/api/v1/conversations/${id}`),
        api<{ items: Message[] }>('GET', `/api/v1/conversations/${id}/messages?limit=500`),
      ]);
      setActiveId(c.id);
      setUrlConversation(c.id);
      setSettings({ model: c.model, persona_id: c.persona_id || 'kaya', spaces: c.spaces });
      const items = visible(m.items);
      setMessages(items);
      const last = items[items.length - 1];
      // An answer still being written (another tab, a reload): follow it from its first event.
      if (last && last.role === 'assistant' && last.status === 'streaming') {
        setMessages(items.map((x) => (x.id === last.id ? { ...x, content: '', citations: [] } : x)));
        liveId.current = last.id;
        follow(c.id, () =>
          authFetch(`/api/v1/conversations/${c.id}/messages/${last.id}/events`, { headers: { 'Last-Event-ID': '0' } }),
        );
      }
    } catch (e) {
      setError(errorText(e));
      setActiveId(null);
      setUrlConversation(null);
    }
  }

  async function reloadMessages(id: string) {
    try {
      const m = await api<{ items: Message[] }>('GET', `/api/v1/conversations/${id}/messages?limit=500`);
      setMessages(visible(m.items));
    } catch {
      /* keep what is shown */
    }
  }

  function newConversation() {
    abort.current?.abort();
    setStreaming(false);
    setActiveId(null);
    setUrlConversation(null);
    setMessages([]);
    setError('');
    setConnection('ok');
    setSettings((s) => ({ ...s, spaces: [] }));
    setListOpen(false);
    input.current?.focus();
  }

  async function deleteConversation() {
    if (!activeId || !window.confirm(t('chat.delete_confirm'))) return;
    try {
      await api('DELETE', `/api/v1/conversations/${activeId}`);
      newConversation();
      loadConversations(search);
    } catch (e) {
      setError(errorText(e));
    }
  }

  // --- settings ---------------------------------------------------------------------------
  async function changeSettings(patch: Partial<Settings>) {
    const next = { ...settings, ...patch };
    setSettings(next);
    if (!activeId) return;
    try {
      const c = await api<Conversation>('PATCH', `/api/v1/conversations/${activeId}`, patch);
      setSettings({ model: c.model, persona_id: c.persona_id || 'kaya', spaces: c.spaces });
    } catch (e) {
      setError(errorText(e));
    }
  }

  // --- streaming --------------------------------------------------------------------------
  function updateLive(f: (m: Message) => Message) {
    setMessages((ms) => ms.map((m) => (m.id === liveId.current ? f(m) : m)));
  }

  async function follow(conversationId: string, start: () => Promise<Response>) {
    const controller = new AbortController();
    abort.current = controller;
    setStreaming(true);
    setPhase('started');
    setConnection('ok');
    let ended = false;
    try {
      await streamAnswer(
        conversationId,
        start,
        {
          onStart: (mid) => {
            const old = liveId.current;
            liveId.current = mid;
            setMessages((ms) => ms.map((m) => (m.id === old ? { ...m, id: mid } : m)));
          },
          onStatus: (s) => setPhase(s),
          onCitation: (c) => updateLive((m) => ({ ...m, citations: [...m.citations.filter((x) => x.number !== c.number), c] })),
          onToken: (text) => updateLive((m) => ({ ...m, content: m.content + text })),
          onDone: (d) => {
            ended = true;
            updateLive((m) => ({ ...m, status: 'complete', model: d.model }));
          },
          onError: (e) => {
            ended = true;
            if (e.code === 'cancelled') {
              updateLive((m) => ({ ...m, status: 'cancelled' }));
            } else if (e.code === 'connection_lost') {
              setConnection('lost');
              setError(t('chat.connection_failed'));
            } else if (e.code !== 'turn_gone') {
              updateLive((m) => ({ ...m, status: 'failed', error: e.message || e.code }));
            }
          },
          onConnection: (state) => setConnection(state),
        },
        controller.signal,
      );
    } catch (e) {
      updateLive((m) => ({ ...m, status: 'failed', error: errorText(e) }));
      setError(errorText(e));
    } finally {
      if (abort.current === controller) {
        abort.current = null;
        setStreaming(false);
        setPhase('');
        if (!controller.signal.aborted && ended) {
          await reloadMessages(conversationId);
          loadConversations(search);
        }
      }
    }
  }

  function placeholder(): Message {
    liveId.current = LIVE;
    return {
      id: LIVE,
      seq: 0,
      role: 'assistant',
      content: '',
      citations: [],
      model: settings.model,
      status: 'streaming',
      error: '',
      created_at: new Date().toISOString(),
    };
  }

  async function send(e?: FormEvent) {
    e?.preventDefault();
    const content = draft.trim();
    if (!content || streaming) return;
    setError('');
    let id = activeId;
    if (!id) {
      try {
        const body: Record<string, unknown> = { persona_id: settings.persona_id, spaces: settings.spaces };
        if (settings.model) body.model = settings.model;
        const c = await api<Conversation>('POST', '/api/v1/conversations', body);
        id = c.id;
        setActiveId(c.id);
        setUrlConversation(c.id);
        setConversations((cs) => [c, ...cs]);
        setSettings({ model: c.model, persona_id: c.persona_id || 'kaya', spaces: c.spaces });
      } catch (err) {
        setError(errorText(err));
        return;
      }
    }
    setDraft('');
    const question: Message = {
      id: `local-${Date.now()}`,
      seq: 0,
      role: 'user',
      content,
      citations: [],
      model: '',
      status: 'complete',
      error: '',
      created_at: new Date().toISOString(),
    };
    setMessages((ms) => [...ms, question, placeholder()]);
    const conversationId = id;
    await follow(conversationId, () =>
      authFetch(`/api/v1/conversations/${conversationId}/messages`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream' },
        body: JSON.stringify({ content }),
      }),
    );
  }

  async function regenerate() {
    if (!activeId || streaming) return;
    setError('');
    setMessages((ms) => {
      const copy = [...ms];
      if (copy.length && copy[copy.length - 1].role === 'assistant') copy.pop();
      return [...copy, placeholder()];
    });
    const conversationId = activeId;
    await follow(conversationId, () =>
      authFetch(`/api/v1/conversations/${conversationId}/regenerate`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream' },
        body: JSON.stringify(settings.model ? { model: settings.model } : {}),
      }),
    );
  }

  async function stop() {
    if (!activeId) return;
    const mid = liveId.current;
    if (mid === LIVE) {
      abort.current?.abort();
      return;
    }
    try {
      await api('POST', `/api/v1/conversations/${activeId}/messages/${mid}/cancel`);
    } catch (e) {
      setError(errorText(e));
      abort.current?.abort();
    }
  }

  async function rate(m: Message, rating: 1 | -1) {
    if (!activeId) return;
    try {
      await api('POST', `/api/v1/conversations/${activeId}/messages/${m.id}/feedback`, { rating });
      setFeedback((f) => ({ ...f, [m.id]: rating }));
    } catch (e) {
      setError(errorText(e));
    }
  }

  function onComposerKey(e: KeyboardEvent<HTMLTextAreaElement>) {
    if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      send();
    }
  }

  // --- view -------------------------------------------------------------------------------
  const lastAssistant = [...messages].reverse().find((m) => m.role === 'assistant');
  const spaceName = (id: string) => spaces.find((s) => s.id === id || s.name === id)?.name ?? id;

  return (
    <div className="chat">
      <aside className={`chat-list ${listOpen ? 'open' : ''}`} aria-label={t('chat.conversations')}>
        <div className="chat-list-head">
          <button type="button" className="btn btn-primary btn-block" onClick={newConversation}>
            {t('chat.new')}
          </button>
          <label htmlFor="conv-search" className="visually-hidden">
            {t('chat.search')}
          </label>
          <input
            id="conv-search"
            type="search"
            placeholder={t('chat.search')}
            value={search}
            onChange={(e) => setSearch(e.target.value)}
          />
        </div>
        <ul className="conv-items">
          {conversations.length === 0 && <li className="muted small pad">{search ? t('chat.no_match') : t('chat.none')}</li>}
          {conversations.map((c) => (
            <li key={c.id}>
              <button
                type="button"
                className="conv-item"
                aria-current={c.id === activeId ? 'true' : undefined}
                onClick={() => openConversation(c.id)}
              >
                <span className="conv-title">{c.title || t('chat.untitled')}</span>
                <span className="conv-date">{formatDate(lang, c.updated_at)}</span>
              </button>
            </li>
          ))}
        </ul>
      </aside>

      <section className="chat-main" aria-label={t('chat.title')}>
        <div className="chat-toolbar">
          <button
            type="button"
            className="btn btn-ghost list-toggle"
            aria-expanded={listOpen}
            onClick={() => setListOpen((o) => !o)}
          >
            {t('chat.conversations')}
          </button>
          <div className="picker">
            <label htmlFor="model-picker">{t('chat.model')}</label>
            <select id="model-picker" value={settings.model} onChange={(e) => changeSettings({ model: e.target.value })}>
              <option value="">{t('chat.model_default')}</option>
              {models.map((m) => (
                <option key={m.id} value={m.id} disabled={m.available === false}>
                  {m.display_name || m.id}
                </option>
              ))}
            </select>
          </div>
          <div className="picker">
            <label htmlFor="persona-picker">{t('chat.persona')}</label>
            <select
              id="persona-picker"
              value={settings.persona_id}
              onChange={(e) => changeSettings({ persona_id: e.target.value })}
            >
              {!personas.some((p) => p.id === 'kaya') && <option value="kaya">KAYA</option>}
              {personas.map((p) => (
                <option key={p.id} value={p.id}>
                  {p.name}
                </option>
              ))}
            </select>
          </div>
          <details className="picker space-picker">
            <summary>
              {t('chat.spaces')}: {settings.spaces.length === 0 ? t('chat.spaces_none') : settings.spaces.map(spaceName).join(', ')}
            </summary>
            <fieldset>
              <legend className="visually-hidden">{t('chat.spaces')}</legend>
              {spaces.length === 0 && <p className="muted small">{t('chat.spaces_empty')}</p>}
              {spaces.map((s) => {
                const checked = settings.spaces.includes(s.id) || settings.spaces.includes(s.name);
                return (
                  <label key={s.id} className="check">
                    <input
                      type="checkbox"
                      checked={checked}
                      onChange={() =>
                        changeSettings({
                          spaces: checked
                            ? settings.spaces.filter((x) => x !== s.id && x !== s.name)
                            : [...settings.spaces, s.id],
                        })
                      }
                    />
                    {s.name}
                  </label>
                );
              })}
            </fieldset>
          </details>
          {activeId && (
            <button type="button" className="btn btn-ghost" onClick={deleteConversation}>
              {t('chat.delete')}
            </button>
          )}
        </div>

        {error && (
          <Notice kind="error" onClose={() => setError('')}>
            {error}
          </Notice>
        )}
        {connection === 'lost' && streaming && <Notice kind="warn">{t('chat.connection_lost')}</Notice>}
        {connection === 'restored' && streaming && <Notice kind="info">{t('chat.connection_restored')}</Notice>}

        <div className="messages" aria-live="off">
          {messages.length === 0 && (
            <div className="empty-chat">
              <h1>{t('chat.welcome')}</h1>
              <p className="muted">{t('chat.welcome_text')}</p>
            </div>
          )}
          {messages.map((m) => (
            <article key={m.id} className={`msg msg-${m.role}`} aria-label={m.role === 'user' ? t('chat.you') : t('chat.assistant')}>
              <div className="msg-who">{m.role === 'user' ? t('chat.you') : t('chat.assistant')}</div>
              <div className="msg-text" data-status={m.status}>
                {m.role === 'assistant' && m.content === '' && m.status === 'streaming' ? (
                  <span className="muted typing">{phase === 'streaming' ? t('chat.writing') : t('chat.searching')}</span>
                ) : m.role === 'assistant' ? (
                  splitMarkers(m.content).map((part, i) => {
                    if (typeof part === 'string') return <span key={i}>{part}</span>;
                    const c = m.citations.find((x) => x.number === part);
                    return c ? (
                      <button
                        key={i}
                        type="button"
                        className="cite-marker"
                        onClick={() => setOpenCitation(c)}
                        aria-label={t('chat.open_source', { n: part })}
                      >
                        [{part}]
                      </button>
                    ) : (
                      <span key={i}>[{part}]</span>
                    );
                  })
                ) : (
                  m.content
                )}
              </div>
              {m.status === 'cancelled' && <p className="msg-state">{t('chat.cancelled')}</p>}
              {m.status === 'failed' && (
                <p className="msg-state msg-failed" role="alert">
                  {t('chat.failed')}
                  {m.error ? `: ${m.error}` : ''}
                </p>
              )}
              {m.role === 'assistant' && m.citations.length > 0 && (
                <div className="sources">
                  <h3>{t('chat.sources')}</h3>
                  <ol>
                    {[...m.citations]
                      .sort((a, b) => a.number - b.number)
                      .map((c) => (
                        <li key={c.number}>
                          <button type="button" className="source" onClick={() => setOpenCitation(c)}>
                            <span className="source-n">{c.number}</span>
                            <span className="source-title">{c.title || c.document_id}</span>
                            {c.page > 0 && <span className="source-page">{t('chat.page', { p: c.page })}</span>}
                          </button>
                        </li>
                      ))}
                  </ol>
                </div>
              )}
              {m.role === 'assistant' && m.status !== 'streaming' && !m.id.startsWith('live') && (
                <div className="msg-actions">
                  <button
                    type="button"
                    className="btn btn-ghost btn-small"
                    aria-pressed={feedback[m.id] === 1}
                    aria-label={t('chat.good')}
                    title={t('chat.good')}
                    onClick={() => rate(m, 1)}
                  >
                    +1
                  </button>
                  <button
                    type="button"
                    className="btn btn-ghost btn-small"
                    aria-pressed={feedback[m.id] === -1}
                    aria-label={t('chat.bad')}
                    title={t('chat.bad')}
                    onClick={() => rate(m, -1)}
                  >
                    −1
                  </button>
                  {feedback[m.id] && <span className="small muted" role="status">{t('chat.thanks')}</span>}
                  {m === lastAssistant && (
                    <button type="button" className="btn btn-ghost btn-small" onClick={regenerate} disabled={streaming}>
                      {t('chat.regenerate')}
                    </button>
                  )}
                  {m.model && <span className="small muted model-tag">{m.model}</span>}
                </div>
              )}
            </article>
          ))}
          <div ref={bottom} />
        </div>
        <div className="visually-hidden" aria-live="polite">
          {streaming ? t('chat.answering') : ''}
        </div>

        <form className="composer" onSubmit={send}>
          <label htmlFor="composer-input" className="visually-hidden">
            {t('chat.input')}
          </label>
          <textarea
            id="composer-input"
            ref={input}
            rows={2}
            placeholder={t('chat.placeholder')}
            value={draft}
            onChange={(e) => setDraft(e.target.value)}
            onKeyDown={onComposerKey}
            maxLength={32000}
          />
          {streaming ? (
            <button type="button" className="btn btn-danger" onClick={stop}>
              {t('chat.stop')}
            </button>
          ) : (
            <button type="submit" className="btn btn-primary" disabled={!draft.trim()}>
              {t('chat.send')}
            </button>
          )}
        </form>
      </section>

      <Dialog open={openCitation !== null} title={t('chat.source_title', { n: openCitation?.number ?? '' })} onClose={() => setOpenCitation(null)}>
        {openCitation && (
          <div className="citation-view">
            <dl>
              <dt>{t('chat.document')}</dt>
              <dd className="citation-doc">{openCitation.title || openCitation.document_id}</dd>
              {openCitation.page > 0 && (
                <>
                  <dt>{t('chat.page_label')}</dt>
                  <dd className="citation-page">{openCitation.page}</dd>
                </>
              )}
              {openCitation.heading_path && (
                <>
                  <dt>{t('chat.section')}</dt>
                  <dd>{openCitation.heading_path}</dd>
                </>
              )}
              <dt>{t('chat.space')}</dt>
              <dd>{spaceName(openCitation.space_id)}</dd>
            </dl>
            <blockquote className="citation-snippet">
              {boldParts(openCitation.snippet).map(([text, bold], i) => (bold ? <mark key={i}>{text}</mark> : <span key={i}>{text}</span>))}
            </blockquote>
          </div>
        )}
      </Dialog>
    </div>
  );
}
