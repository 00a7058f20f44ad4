// Personas: the list, and an editor with trait sliders, a live prompt preview and the avatar.
'use client';

import { useEffect, useRef, useState, type FormEvent } from 'react';
import Notice, { useErrorText } from '@/components/Notice';
import { useMe } from '@/components/Shell';
import { api, authFetch, errorOf, hasPermission } from '@/lib/api';
import { useI18n } from '@/lib/i18n';
import type { StringKey } from '@/lib/strings';
import PersonaAvatar from './PersonaAvatar';

export interface Persona {
  id: string;
  owner_id: string;
  name: string;
  role: string;
  description: string;
  traits: { openness: number; conscientiousness: number; extraversion: number; agreeableness: number; neuroticism: number };
  tone: string;
  humour: number;
  verbosity: string;
  language: string;
  address: string;
  rules: string[];
  greeting: string;
  default_model: string;
  default_spaces: string[];
  voice: { engine: string; voice: string; rate: number; pitch: number };
  avatar?: { uploaded: boolean; etag: string };
  builtin: boolean;
  created_at: string;
  updated_at: string;
}

const TRAITS = ['openness', 'conscientiousness', 'extraversion', 'agreeableness', 'neuroticism'] as const;

function blank(lang: string): Persona {
  return {
    id: '',
    owner_id: '',
    name: '',
    role: '',
    description: '',
    traits: { openness: 50, conscientiousness: 50, extraversion: 50, agreeableness: 50, neuroticism: 50 },
    tone: 'neutral',
    humour: 20,
    verbosity: 'medium',
    language: lang === 'en' ? 'en' : 'de',
    address: 'Sie',
    rules: [],
    greeting: '',
    default_model: '',
    default_spaces: [],
    voice: { engine: 'espeak-ng', voice: lang === 'en' ? 'en' : 'de', rate: 1, pitch: 1 },
    builtin: false,
    created_at: '',
    updated_at: '',
  };
}

export default function PersonasView() {
  const { t, lang } = useI18n();
  const me = useMe();
  const errorText = useErrorText();
  const [items, setItems] = useState<Persona[] | null>(null);
  const [editing, setEditing] = useState<Persona | null>(null);
  const [error, setError] = useState('');
  const [saved, setSaved] = useState('');
  const canWrite = hasPermission(me, 'personas:write');

  const load = () =>
    api<{ items: Persona[] }>('GET', '/api/v1/personas')
      .then((r) => setItems(r.items))
      .catch((e) => setError(errorText(e)));
  useEffect(() => {
    load();
  }, []); // eslint-disable-line react-hooks/exhaustive-deps

  if (editing) {
    return (
      <PersonaEditor
        initial={editing}
        onCancel={() => setEditing(null)}
        onSaved={(p) => {
          setEditing(null);
          setSaved(t('personas.saved', { name: p.name }));
          load();
        }}
      />
    );
  }

  return (
    <div className="page">
      <div className="page-head">
        <div>
          <h1>{t('personas.title')}</h1>
          <p className="muted">{t('personas.intro')}</p>
        </div>
        {canWrite && (
          <button type="button" className="btn btn-primary" onClick={() => setEditing(blank(lang))}>
            {t('personas.new')}
          </button>
        )}
      </div>
      {error && (
        <Notice kind="error" onClose={() => setError('')}>
          {error}
        </Notice>
      )}
      {saved && (
        <Notice kind="success" onClose={() => setSaved('')}>
          {saved}
        </Notice>
      )}
      {items === null ? (
        <p role="status">{t('common.loading')}</p>
      ) : (
        <ul className="card-grid">
          {items.map((p) => (
            <li key={p.id} className="card persona-card">
              <PersonaAvatar id={p.id} name={p.name} etag={p.avatar?.uploaded ? p.avatar.etag : undefined} size={56} alt="" />
              <div className="persona-card-body">
                <h2>{p.name}</h2>
                <p className="small">{p.role}</p>
                <p className="small muted">
                  {t(`personas.tone_${p.tone}` as StringKey)} · {p.language.toUpperCase()} · {p.address}
                  {p.builtin && <> · {t('personas.builtin')}</>}
                </p>
                {canWrite && !p.builtin && (me?.id === p.owner_id || hasPermission(me, '*')) && (
                  <button type="button" className="btn btn-small" onClick={() => setEditing(p)} aria-label={t('personas.edit_named', { name: p.name })}>
                    {t('common.edit')}
                  </button>
                )}
              </div>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function PersonaEditor({ initial, onCancel, onSaved }: { initial: Persona; onCancel: () => void; onSaved: (p: Persona) => void }) {
  const { t } = useI18n();
  const errorText = useErrorText();
  const [p, setP] = useState<Persona>(initial);
  const [rulesText, setRulesText] = useState(initial.rules.join('\n'));
  const [prompt, setPrompt] = useState('');
  const [previewError, setPreviewError] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const [draftText, setDraftText] = useState('');
  const [draftNote, setDraftNote] = useState('');
  const [models, setModels] = useState<Array<{ id: string; display_name?: string; capabilities?: string[] }>>([]);
  const seq = useRef(0);
  const isNew = !initial.id;

  const current = (): Persona => ({
    ...p,
    rules: rulesText
      .split('\n')
      .map((r) => r.trim())
      .filter(Boolean),
  });

  useEffect(() => {
    api<{ data: Array<{ id: string; display_name?: string; capabilities?: string[] }> }>('GET', '/v1/models')
      .then((r) => setModels(r.data.filter((m) => (m.capabilities ?? []).includes('chat') && !m.id.includes(':'))))
      .catch(() => {});
  }, []);

  // The prompt as the server would generate it, after each change (debounced).
  useEffect(() => {
    const n = ++seq.current;
    const timer = setTimeout(async () => {
      try {
        const body = { ...current(), name: p.name || '—' };
        const r = await api<{ prompt: string }>('POST', '/api/v1/personas/preview', body);
        if (n === seq.current) {
          setPrompt(r.prompt);
          setPreviewError('');
        }
      } catch (e) {
        if (n === seq.current) setPreviewError(errorText(e));
      }
    }, 300);
    return () => clearTimeout(timer);
  }, [p, rulesText]); // eslint-disable-line react-hooks/exhaustive-deps

  const set = <K extends keyof Persona>(k: K, v: Persona[K]) => setP((x) => ({ ...x, [k]: v }));

  async function save(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      const body = current();
      const r = isNew
        ? await api<Persona>('POST', '/api/v1/personas', body)
        : await api<Persona>('PUT', `/api/v1/personas/${encodeURIComponent(p.id)}`, body);
      onSaved(r);
    } catch (err) {
      setError(errorText(err));
      setBusy(false);
    }
  }

  async function remove() {
    if (!window.confirm(t('personas.delete_confirm', { name: p.name }))) return;
    try {
      await api('DELETE', `/api/v1/personas/${encodeURIComponent(p.id)}`);
      onSaved(p);
    } catch (err) {
      setError(errorText(err));
    }
  }

  // The avatar is its own resource: uploaded and removed at once, not with "save".
  async function uploadAvatar(file: File) {
    setError('');
    try {
      const res = await authFetch(`/api/v1/personas/${encodeURIComponent(p.id)}/avatar`, {
        method: 'PUT',
        headers: { 'Content-Type': file.type || 'application/octet-stream' },
        body: file,
      });
      if (!res.ok) throw await errorOf(res);
      const updated = (await res.json()) as Persona;
      setP((x) => ({ ...x, avatar: updated.avatar }));
    } catch (err) {
      setError(errorText(err));
    }
  }

  async function removeAvatar() {
    setError('');
    try {
      const updated = await api<Persona>('DELETE', `/api/v1/personas/${encodeURIComponent(p.id)}/avatar`);
      setP((x) => ({ ...x, avatar: updated.avatar }));
    } catch (err) {
      setError(errorText(err));
    }
  }

  async function draft() {
    if (!draftText.trim()) return;
    try {
      const r = await api<{ persona: Persona; generator: string; note?: string }>('POST', '/api/v1/personas/draft', {
        description: draftText,
        language: p.language,
      });
      // A model was asked but could not be used: the template drafted, and the note says why.
      setDraftNote(r.note ?? '');
      setP({ ...r.persona, id: p.id, owner_id: p.owner_id, name: p.name || r.persona.name });
      setRulesText(r.persona.rules.join('\n'));
    } catch (err) {
      setError(errorText(err));
    }
  }

  return (
    <div className="page">
      <h1>{isNew ? t('personas.new') : t('personas.edit_named', { name: initial.name })}</h1>
      {error && (
        <Notice kind="error" onClose={() => setError('')}>
          {error}
        </Notice>
      )}
      <div className="persona-editor">
        <form className="card form" onSubmit={save} aria-label={t('personas.form')}>
          {isNew && (
            <fieldset className="draft-box">
              <legend>{t('personas.draft')}</legend>
              <label htmlFor="draft-text">{t('personas.draft_hint')}</label>
              <textarea id="draft-text" rows={2} value={draftText} onChange={(e) => setDraftText(e.target.value)} />
              <button type="button" className="btn btn-small" onClick={draft} disabled={!draftText.trim()}>
                {t('personas.draft_button')}
              </button>
              {draftNote && (
                <Notice kind="info" onClose={() => setDraftNote('')}>
                  {draftNote}
                </Notice>
              )}
            </fieldset>
          )}
          <div className="avatar-row">
            <PersonaAvatar
              id={p.id}
              name={p.name}
              etag={p.avatar?.uploaded ? p.avatar.etag : undefined}
              size={72}
              alt={t('personas.avatar_alt', { name: p.name })}
            />
            <div className="field grow">
              <label htmlFor="p-name">{t('personas.name')}</label>
              <input id="p-name" required maxLength={100} value={p.name} onChange={(e) => set('name', e.target.value)} />
            </div>
          </div>
          {!isNew && (
            <div className="avatar-upload">
              <label htmlFor="p-avatar" className="btn btn-small">
                {t('personas.avatar_upload')}
              </label>
              <input
                id="p-avatar"
                type="file"
                accept="image/png,image/jpeg,image/webp,image/gif"
                className="visually-hidden-input"
                onChange={(e) => {
                  const file = e.target.files?.[0];
                  e.target.value = '';
                  if (file) void uploadAvatar(file);
                }}
              />
              {p.avatar?.uploaded && (
                <button type="button" className="btn btn-small" onClick={removeAvatar}>
                  {t('personas.avatar_remove')}
                </button>
              )}
              <span className="small muted">{t('personas.avatar_hint')}</span>
            </div>
          )}
          <label htmlFor="p-role">{t('personas.role')}</label>
          <input id="p-role" maxLength={200} value={p.role} onChange={(e) => set('role', e.target.value)} />
          <label htmlFor="p-desc">{t('personas.description')}</label>
          <textarea id="p-desc" rows={3} value={p.description} onChange={(e) => set('description', e.target.value)} />

          <fieldset>
            <legend>{t('personas.traits')}</legend>
            {TRAITS.map((k) => (
              <div key={k} className="slider">
                <label htmlFor={`trait-${k}`}>{t(`personas.trait_${k}` as StringKey)}</label>
                <input
                  id={`trait-${k}`}
                  type="range"
                  min={0}
                  max={100}
                  value={p.traits[k]}
                  onChange={(e) => set('traits', { ...p.traits, [k]: Number(e.target.value) })}
                  aria-valuetext={String(p.traits[k])}
                />
                <output htmlFor={`trait-${k}`}>{p.traits[k]}</output>
              </div>
            ))}
            <div className="slider">
              <label htmlFor="p-humour">{t('personas.humour')}</label>
              <input id="p-humour" type="range" min={0} max={100} value={p.humour} onChange={(e) => set('humour', Number(e.target.value))} />
              <output htmlFor="p-humour">{p.humour}</output>
            </div>
          </fieldset>

          <div className="grid-2">
            <div className="field">
              <label htmlFor="p-tone">{t('personas.tone')}</label>
              <select id="p-tone" value={p.tone} onChange={(e) => set('tone', e.target.value)}>
                {['warm', 'neutral', 'formal', 'playful'].map((x) => (
                  <option key={x} value={x}>
                    {t(`personas.tone_${x}` as StringKey)}
                  </option>
                ))}
              </select>
            </div>
            <div className="field">
              <label htmlFor="p-verbosity">{t('personas.verbosity')}</label>
              <select id="p-verbosity" value={p.verbosity} onChange={(e) => set('verbosity', e.target.value)}>
                {['short', 'medium', 'long'].map((x) => (
                  <option key={x} value={x}>
                    {t(`personas.verbosity_${x}` as StringKey)}
                  </option>
                ))}
              </select>
            </div>
            <div className="field">
              <label htmlFor="p-lang">{t('personas.language')}</label>
              <select id="p-lang" value={p.language} onChange={(e) => set('language', e.target.value)}>
                <option value="de">Deutsch</option>
                <option value="en">English</option>
              </select>
            </div>
            <div className="field">
              <label htmlFor="p-address">{t('personas.address')}</label>
              <select id="p-address" value={p.address} onChange={(e) => set('address', e.target.value)}>
                <option value="Sie">Sie</option>
                <option value="du">du</option>
              </select>
            </div>
            <div className="field">
              <label htmlFor="p-model">{t('personas.default_model')}</label>
              <select id="p-model" value={p.default_model} onChange={(e) => set('default_model', e.target.value)}>
                <option value="">{t('chat.model_default')}</option>
                {models.map((m) => (
                  <option key={m.id} value={m.id}>
                    {m.display_name || m.id}
                  </option>
                ))}
              </select>
            </div>
          </div>
          <label htmlFor="p-rules">{t('personas.rules')}</label>
          <textarea id="p-rules" rows={3} value={rulesText} onChange={(e) => setRulesText(e.target.value)} aria-describedby="p-rules-hint" />
          <p id="p-rules-hint" className="small muted">
            {t('personas.rules_hint')}
          </p>
          <label htmlFor="p-greeting">{t('personas.greeting')}</label>
          <input id="p-greeting" value={p.greeting} onChange={(e) => set('greeting', e.target.value)} />
          <div className="form-actions">
            <button type="submit" className="btn btn-primary" disabled={busy || !p.name.trim()}>
              {t('common.save')}
            </button>
            <button type="button" className="btn" onClick={onCancel}>
              {t('common.cancel')}
            </button>
            {!isNew && (
              <button type="button" className="btn btn-danger" onClick={remove}>
                {t('common.delete')}
              </button>
            )}
          </div>
        </form>
        <section className="card prompt-preview" aria-labelledby="prompt-h">
          <h2 id="prompt-h">{t('personas.preview')}</h2>
          {previewError ? (
            <Notice kind="warn">{previewError}</Notice>
          ) : (
            <pre className="prompt-text" aria-live="polite">
              {prompt}
            </pre>
          )}
        </section>
      </div>
    </div>
  );
}
