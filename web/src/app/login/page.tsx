'use client';

import { useEffect, useState, type FormEvent } from 'react';
import LangSwitch from '@/components/LangSwitch';
import Notice from '@/components/Notice';
import { ApiError, login } from '@/lib/api';
import { useI18n } from '@/lib/i18n';

// Only paths of this app are followed after signing in (no open redirect).
function safeNext(raw: string | null): string {
  if (!raw || !raw.startsWith('/') || raw.startsWith('//') || raw.startsWith('/login')) return '/chat/';
  return raw;
}

export default function LoginPage() {
  const { t } = useI18n();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [expired, setExpired] = useState(false);
  const [next, setNext] = useState('/chat/');

  useEffect(() => {
    const q = new URLSearchParams(window.location.search);
    setExpired(q.get('expired') === '1');
    setNext(safeNext(q.get('next')));
  }, []);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      await login(email.trim(), password);
      window.location.assign(next);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) setError(t('login.wrong'));
      else if (err instanceof ApiError && err.status === 429) setError(t('login.locked'));
      else setError(t('error.offline'));
      setBusy(false);
    }
  }

  return (
    <main className="center-page" id="main">
      <div className="card narrow login-card">
        <div className="login-head">
          <span className="brand-mark big" aria-hidden="true">W</span>
          <div>
            <h1>WattOS KI</h1>
            <p className="muted">{t('login.subtitle')}</p>
          </div>
          <LangSwitch />
        </div>
        {expired && !error && <Notice kind="warn">{t('login.expired')}</Notice>}
        {error && <Notice kind="error">{error}</Notice>}
        <form onSubmit={submit} className="form" aria-label={t('login.title')}>
          <h2 className="visually-hidden">{t('login.title')}</h2>
          <label htmlFor="email">{t('login.email')}</label>
          <input
            id="email"
            name="email"
            type="email"
            autoComplete="username"
            required
            value={email}
            onChange={(e) => setEmail(e.target.value)}
            autoFocus
          />
          <label htmlFor="password">{t('login.password')}</label>
          <input
            id="password"
            name="password"
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
          <button type="submit" className="btn btn-primary btn-block" disabled={busy}>
            {busy ? t('login.busy') : t('login.submit')}
          </button>
        </form>
      </div>
    </main>
  );
}
