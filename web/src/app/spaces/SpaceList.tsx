'use client';

import { useEffect, useState, type FormEvent } from 'react';
import Notice, { useErrorText } from '@/components/Notice';
import { useMe } from '@/components/Shell';
import { api, hasPermission } from '@/lib/api';
import { useI18n } from '@/lib/i18n';

export interface Space {
  id: string;
  name: string;
  description: string;
  owner_id: string;
  embedding_model: string;
  dimensions: number;
  created_at: string;
  access: string;
  chunks: number;
}

export default function SpaceList({ onOpen }: { onOpen: (id: string) => void }) {
  const { t } = useI18n();
  const me = useMe();
  const errorText = useErrorText();
  const [spaces, setSpaces] = useState<Space[] | null>(null);
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  const load = () =>
    api<{ items: Space[] }>('GET', '/api/v1/spaces')
      .then((r) => setSpaces(r.items))
      .catch((e) => setError(errorText(e)));
  useEffect(() => {
    load();
  }, []); // eslint-disable-line react-hooks/exhaustive-deps

  async function create(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      const s = await api<Space>('POST', '/api/v1/spaces', { name: name.trim(), description: description.trim() });
      setName('');
      setDescription('');
      onOpen(s.id);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="page">
      <h1>{t('spaces.title')}</h1>
      <p className="muted">{t('spaces.intro')}</p>
      {error && (
        <Notice kind="error" onClose={() => setError('')}>
          {error}
        </Notice>
      )}
      {hasPermission(me, 'spaces:write') && (
        <form className="card form inline-form" onSubmit={create} aria-labelledby="new-space-h">
          <h2 id="new-space-h">{t('spaces.create')}</h2>
          <div className="field">
            <label htmlFor="space-name">{t('spaces.name')}</label>
            <input id="space-name" required maxLength={200} value={name} onChange={(e) => setName(e.target.value)} />
          </div>
          <div className="field grow">
            <label htmlFor="space-desc">{t('spaces.description')}</label>
            <input id="space-desc" maxLength={2000} value={description} onChange={(e) => setDescription(e.target.value)} />
          </div>
          <button type="submit" className="btn btn-primary" disabled={busy || !name.trim()}>
            {t('spaces.create_button')}
          </button>
        </form>
      )}
      {spaces === null ? (
        <p role="status">{t('common.loading')}</p>
      ) : spaces.length === 0 ? (
        <p className="muted">{t('spaces.none')}</p>
      ) : (
        <ul className="card-grid" aria-label={t('spaces.title')}>
          {spaces.map((s) => (
            <li key={s.id} className="card space-card">
              <h2>
                <a
                  href={`/spaces/?id=${encodeURIComponent(s.id)}`}
                  onClick={(e) => {
                    e.preventDefault();
                    onOpen(s.id);
                  }}
                >
                  {s.name}
                </a>
              </h2>
              <p>{s.description || <span className="muted">{t('spaces.no_description')}</span>}</p>
              <p className="small muted">
                {t('spaces.access_' + s.access as never) || s.access} · {t('spaces.chunks', { n: s.chunks })}
              </p>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
