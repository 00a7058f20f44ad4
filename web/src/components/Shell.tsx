// The frame of every signed-in page: checks the session, loads the user with their
// permissions, renews the access token before it runs out, and shows the navigation.
'use client';

import Link from 'next/link';
import { usePathname } from 'next/navigation';
import { createContext, useContext, useEffect, useState, type ReactNode } from 'react';
import { api, endExpiredSession, hasPermission, loadSession, logout, refreshSession, type User } from '@/lib/api';
import { useI18n } from '@/lib/i18n';
import LangSwitch from './LangSwitch';

const MeCtx = createContext<User | null>(null);

export function useMe(): User | null {
  return useContext(MeCtx);
}

export default function Shell({ children, wide = false }: { children: ReactNode; wide?: boolean }) {
  const { t } = useI18n();
  const pathname = (usePathname() || '/').replace(/\/?$/, '/');
  const [me, setMe] = useState<User | null>(null);
  const [menuOpen, setMenuOpen] = useState(false);

  useEffect(() => {
    const s = loadSession();
    if (!s) {
      const next = window.location.pathname + window.location.search;
      window.location.replace(`/login/?next=${encodeURIComponent(next)}`);
      return;
    }
    api<User>('GET', '/api/v1/auth/me')
      .then(setMe)
      .catch(() => {
        /* authFetch already ended an expired session; other errors leave the page usable */
        setMe(s.user);
      });
  }, []);

  // Renew the access token a minute before it expires.
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const plan = () => {
      const s = loadSession();
      if (!s) return;
      const wait = Math.max(5_000, s.expires_at - Date.now() - 60_000);
      timer = setTimeout(async () => {
        const current = loadSession();
        if (!current) return;
        const outcome = await refreshSession(current.access_token);
        if (outcome === 'rejected') endExpiredSession();
        plan();
      }, wait);
    };
    plan();
    return () => clearTimeout(timer);
  }, []);

  if (!me) {
    return (
      <div className="loading-screen" role="status" aria-live="polite">
        {t('common.loading')}
      </div>
    );
  }

  const links: Array<{ href: string; label: string; show: boolean }> = [
    { href: '/chat/', label: t('nav.chat'), show: hasPermission(me, 'chat:use') },
    { href: '/spaces/', label: t('nav.spaces'), show: hasPermission(me, 'spaces:read') },
    { href: '/personas/', label: t('nav.personas'), show: true },
    {
      href: '/admin/',
      label: t('nav.admin'),
      show: ['users:read', 'audit:read', 'usage:read', 'feedback:review', 'api_keys:admin'].some((p) => hasPermission(me, p)),
    },
  ];

  return (
    <MeCtx.Provider value={me}>
      <a href="#main" className="skip-link">
        {t('nav.skip')}
      </a>
      <header className="topbar">
        <Link href="/chat/" className="brand" aria-label={t('nav.home')}>
          <span className="brand-mark" aria-hidden="true">W</span>
          <span className="brand-name">WattOS KI</span>
        </Link>
        <button
          type="button"
          className="menu-toggle"
          aria-expanded={menuOpen}
          aria-controls="main-nav"
          onClick={() => setMenuOpen((o) => !o)}
        >
          {t('nav.menu')}
        </button>
        <nav id="main-nav" aria-label={t('nav.main')} className={menuOpen ? 'open' : ''}>
          <ul>
            {links
              .filter((l) => l.show)
              .map((l) => (
                <li key={l.href}>
                  <Link href={l.href} aria-current={pathname.startsWith(l.href) ? 'page' : undefined} onClick={() => setMenuOpen(false)}>
                    {l.label}
                  </Link>
                </li>
              ))}
          </ul>
          <div className="topbar-tools">
            <LangSwitch />
            <span className="whoami" title={me.email}>
              {me.display_name || me.email}
            </span>
            <button
              type="button"
              className="btn btn-ghost"
              onClick={async () => {
                await logout();
                window.location.assign('/login/');
              }}
            >
              {t('nav.logout')}
            </button>
          </div>
        </nav>
      </header>
      <main id="main" className={wide ? 'main main-wide' : 'main'} tabIndex={-1}>
        {children}
      </main>
    </MeCtx.Provider>
  );
}
