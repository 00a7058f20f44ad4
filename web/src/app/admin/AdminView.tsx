// Administration: users, roles, API keys, the audit log, feedback review and usage,
// each tab shown to those with its permission.
'use client';

import { useEffect, useRef, useState, type KeyboardEvent } from 'react';
import { useMe } from '@/components/Shell';
import { hasPermission } from '@/lib/api';
import { useI18n } from '@/lib/i18n';
import type { StringKey } from '@/lib/strings';
import { AuditTab, FeedbackTab, UsageTab } from './Reports';
import { KeysTab, RolesTab, UsersTab } from './Identity';

const TABS: Array<{ id: string; label: StringKey; perm: string }> = [
  { id: 'users', label: 'admin.users', perm: 'users:read' },
  { id: 'roles', label: 'admin.roles', perm: 'users:read' },
  { id: 'keys', label: 'admin.keys', perm: 'api_keys:own' },
  { id: 'audit', label: 'admin.audit', perm: 'audit:read' },
  { id: 'feedback', label: 'admin.feedback', perm: 'feedback:review' },
  { id: 'usage', label: 'admin.usage', perm: 'usage:read' },
];

export default function AdminView() {
  const { t } = useI18n();
  const me = useMe();
  const tabs = TABS.filter((x) => hasPermission(me, x.perm));
  const [tab, setTab] = useState('');
  const refs = useRef<Record<string, HTMLButtonElement | null>>({});

  useEffect(() => {
    const q = new URLSearchParams(window.location.search).get('tab');
    setTab(tabs.find((x) => x.id === q)?.id ?? tabs[0]?.id ?? '');
  }, []); // eslint-disable-line react-hooks/exhaustive-deps

  const choose = (id: string, focus = false) => {
    setTab(id);
    window.history.replaceState(null, '', `/admin/?tab=${id}`);
    if (focus) refs.current[id]?.focus();
  };

  const onKey = (e: KeyboardEvent) => {
    const i = tabs.findIndex((x) => x.id === tab);
    if (e.key === 'ArrowRight') choose(tabs[(i + 1) % tabs.length].id, true);
    else if (e.key === 'ArrowLeft') choose(tabs[(i - 1 + tabs.length) % tabs.length].id, true);
    else if (e.key === 'Home') choose(tabs[0].id, true);
    else if (e.key === 'End') choose(tabs[tabs.length - 1].id, true);
    else return;
    e.preventDefault();
  };

  if (tabs.length === 0) return <p>{t('error.forbidden')}</p>;

  return (
    <div className="page page-wide">
      <h1>{t('admin.title')}</h1>
      <div role="tablist" aria-label={t('admin.title')} className="tabs" onKeyDown={onKey}>
        {tabs.map((x) => (
          <button
            key={x.id}
            ref={(el) => {
              refs.current[x.id] = el;
            }}
            type="button"
            role="tab"
            id={`tab-${x.id}`}
            aria-selected={tab === x.id}
            aria-controls={`panel-${x.id}`}
            tabIndex={tab === x.id ? 0 : -1}
            onClick={() => choose(x.id)}
          >
            {t(x.label)}
          </button>
        ))}
      </div>
      {tab && (
        <div role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`} className="tabpanel">
          {tab === 'users' && <UsersTab />}
          {tab === 'roles' && <RolesTab />}
          {tab === 'keys' && <KeysTab />}
          {tab === 'audit' && <AuditTab />}
          {tab === 'feedback' && <FeedbackTab />}
          {tab === 'usage' && <UsageTab />}
        </div>
      )}
    </div>
  );
}
