// Admin tabs for identities: users (create, roles, status), roles, API keys.
'use client';

import { useEffect, useState, type FormEvent } from 'react';
import Dialog from '@/components/Dialog';
import Notice, { useErrorText } from '@/components/Notice';
import { useMe } from '@/components/Shell';
import { api, hasPermission, type User } from '@/lib/api';
import { formatDate, useI18n } from '@/lib/i18n';

interface Role {
  id: string;
  name: string;
  description: string;
  permissions: string[];
  builtin: boolean;
}

interface ApiKey {
  id: string;
  owner_id: string;
  name: string;
  prefix: string;
  permissions: string[];
  created_at: string;
  expires_at: string;
  revoked_at: string;
  last_used_at: string;
  key?: string;
}

function useRoles() {
  const [roles, setRoles] = useState<Role[]>([]);
  const load = () =>
    api<{ items: Role[] }>('GET', '/api/v1/admin/roles')
      .then((r) => setRoles(r.items))
      .catch(() => {});
  useEffect(() => {
    load();
  }, []);
  return { roles, reload: load };
}

export function UsersTab() {
  const { t, lang } = useI18n();
  const me = useMe();
  const errorText = useErrorText();
  const { roles } = useRoles();
  const [users, setUsers] = useState<User[] | null>(null);
  const [error, setError] = useState('');
  const [info, setInfo] = useState('');
  const [form, setForm] = useState({ email: '', display_name: '', password: '', roles: ['member'] });
  const [editing, setEditing] = useState<User | null>(null);
  const [editRoles, setEditRoles] = useState<string[]>([]);
  const canWrite = hasPermission(me, 'users:write');

  const load = () =>
    api<{ items: User[] }>('GET', '/api/v1/admin/users?limit=1000')
      .then((r) => setUsers(r.items))
      .catch((e) => setError(errorText(e)));
  useEffect(() => {
    load();
  }, []); // eslint-disable-line react-hooks/exhaustive-deps

  async function create(e: FormEvent) {
    e.preventDefault();
    setError('');
    try {
      const u = await api<User>('POST', '/api/v1/admin/users', form);
      setForm({ email: '', display_name: '', password: '', roles: ['member'] });
      setInfo(t('users.created', { email: u.email }));
      load();
    } catch (err) {
      setError(errorText(err));
    }
  }

  async function setStatus(u: User, status: string) {
    try {
      await api('PATCH', `/api/v1/admin/users/${u.id}`, { status });
      load();
    } catch (err) {
      setError(errorText(err));
    }
  }

  async function saveRoles() {
    if (!editing) return;
    try {
      await api('PUT', `/api/v1/admin/users/${editing.id}/roles`, { roles: editRoles });
      setEditing(null);
      load();
    } catch (err) {
      setError(errorText(err));
    }
  }

  async function remove(u: User) {
    if (!window.confirm(t('users.delete_confirm', { email: u.email }))) return;
    try {
      await api('DELETE', `/api/v1/admin/users/${u.id}`);
      load();
    } catch (err) {
      setError(errorText(err));
    }
  }

  const toggle = (list: string[], name: string) => (list.includes(name) ? list.filter((x) => x !== name) : [...list, name]);

  return (
    <div>
      {error && (
        <Notice kind="error" onClose={() => setError('')}>
          {error}
        </Notice>
      )}
      {info && (
        <Notice kind="success" onClose={() => setInfo('')}>
          {info}
        </Notice>
      )}
      {users === null ? (
        <p role="status">{t('common.loading')}</p>
      ) : (
        <div className="table-wrap">
          <table className="table">
            <caption className="visually-hidden">{t('admin.users')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('users.email')}</th>
                <th scope="col">{t('users.name')}</th>
                <th scope="col">{t('users.roles')}</th>
                <th scope="col">{t('users.status')}</th>
                <th scope="col">{t('users.created_at')}</th>
                {canWrite && <th scope="col">{t('common.actions')}</th>}
              </tr>
            </thead>
            <tbody>
              {users.map((u) => (
                <tr key={u.id}>
                  <td>{u.email}</td>
                  <td>{u.display_name}</td>
                  <td>{u.roles.join(', ')}</td>
                  <td>
                    <span className={`badge badge-${u.status}`}>{u.status === 'active' ? t('users.active') : t('users.disabled')}</span>
                  </td>
                  <td className="small">{formatDate(lang, u.created_at)}</td>
                  {canWrite && (
                    <td className="actions">
                      <button
                        type="button"
                        className="btn btn-small"
                        onClick={() => {
                          setEditing(u);
                          setEditRoles(u.roles);
                        }}
                      >
                        {t('users.edit_roles')}
                      </button>
                      {u.id !== me?.id && (
                        <>
                          <button
                            type="button"
                            className="btn btn-small btn-ghost"
                            onClick={() => setStatus(u, u.status === 'active' ? 'disabled' : 'active')}
                          >
                            {u.status === 'active' ? t('users.disable') : t('users.enable')}
                          </button>
                          <button type="button" className="btn btn-small btn-ghost" onClick={() => remove(u)}>
                            {t('common.delete')}
                          </button>
                        </>
                      )}
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {canWrite && (
        <form className="card form" onSubmit={create} aria-labelledby="new-user-h">
          <h2 id="new-user-h">{t('users.create')}</h2>
          <div className="grid-2">
            <div className="field">
              <label htmlFor="u-email">{t('users.email')}</label>
              <input id="u-email" type="email" required value={form.email} onChange={(e) => setForm({ ...form, email: e.target.value })} />
            </div>
            <div className="field">
              <label htmlFor="u-name">{t('users.name')}</label>
              <input id="u-name" value={form.display_name} onChange={(e) => setForm({ ...form, display_name: e.target.value })} />
            </div>
            <div className="field">
              <label htmlFor="u-pass">{t('users.password')}</label>
              <input
                id="u-pass"
                type="password"
                autoComplete="new-password"
                required
                minLength={12}
                value={form.password}
                onChange={(e) => setForm({ ...form, password: e.target.value })}
                aria-describedby="u-pass-hint"
              />
              <span id="u-pass-hint" className="small muted">
                {t('users.password_hint')}
              </span>
            </div>
          </div>
          <fieldset>
            <legend>{t('users.roles')}</legend>
            {roles.map((r) => (
              <label key={r.id} className="check">
                <input type="checkbox" checked={form.roles.includes(r.name)} onChange={() => setForm({ ...form, roles: toggle(form.roles, r.name) })} />
                {r.name}
              </label>
            ))}
          </fieldset>
          <button type="submit" className="btn btn-primary">
            {t('users.create_button')}
          </button>
        </form>
      )}
      <Dialog open={editing !== null} title={t('users.roles_of', { email: editing?.email ?? '' })} onClose={() => setEditing(null)}>
        <fieldset>
          <legend className="visually-hidden">{t('users.roles')}</legend>
          {roles.map((r) => (
            <label key={r.id} className="check">
              <input type="checkbox" checked={editRoles.includes(r.name)} onChange={() => setEditRoles(toggle(editRoles, r.name))} />
              {r.name} <span className="small muted">{r.description}</span>
            </label>
          ))}
        </fieldset>
        <div className="form-actions">
          <button type="button" className="btn btn-primary" onClick={saveRoles}>
            {t('common.save')}
          </button>
          <button type="button" className="btn" onClick={() => setEditing(null)}>
            {t('common.cancel')}
          </button>
        </div>
      </Dialog>
    </div>
  );
}

export function RolesTab() {
  const { t } = useI18n();
  const me = useMe();
  const errorText = useErrorText();
  const { roles, reload } = useRoles();
  const [permissions, setPermissions] = useState<string[]>([]);
  const [form, setForm] = useState({ name: '', description: '', permissions: [] as string[] });
  const [error, setError] = useState('');
  const canWrite = hasPermission(me, 'roles:write');

  useEffect(() => {
    api<{ items: string[] }>('GET', '/api/v1/admin/permissions')
      .then((r) => setPermissions(r.items))
      .catch(() => {});
  }, []);

  async function create(e: FormEvent) {
    e.preventDefault();
    try {
      await api('POST', '/api/v1/admin/roles', form);
      setForm({ name: '', description: '', permissions: [] });
      reload();
    } catch (err) {
      setError(errorText(err));
    }
  }

  async function remove(r: Role) {
    if (!window.confirm(t('roles.delete_confirm', { name: r.name }))) return;
    try {
      await api('DELETE', `/api/v1/admin/roles/${r.id}`);
      reload();
    } catch (err) {
      setError(errorText(err));
    }
  }

  return (
    <div>
      {error && (
        <Notice kind="error" onClose={() => setError('')}>
          {error}
        </Notice>
      )}
      <div className="table-wrap">
        <table className="table">
          <caption className="visually-hidden">{t('admin.roles')}</caption>
          <thead>
            <tr>
              <th scope="col">{t('roles.name')}</th>
              <th scope="col">{t('roles.description')}</th>
              <th scope="col">{t('roles.permissions')}</th>
              {canWrite && <th scope="col">{t('common.actions')}</th>}
            </tr>
          </thead>
          <tbody>
            {roles.map((r) => (
              <tr key={r.id}>
                <td>
                  {r.name} {r.builtin && <span className="badge">{t('roles.builtin')}</span>}
                </td>
                <td>{r.description}</td>
                <td className="small">{r.permissions.join(', ')}</td>
                {canWrite && (
                  <td>
                    {!r.builtin && (
                      <button type="button" className="btn btn-small btn-ghost" onClick={() => remove(r)}>
                        {t('common.delete')}
                      </button>
                    )}
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {canWrite && (
        <form className="card form" onSubmit={create} aria-labelledby="new-role-h">
          <h2 id="new-role-h">{t('roles.create')}</h2>
          <div className="grid-2">
            <div className="field">
              <label htmlFor="r-name">{t('roles.name')}</label>
              <input id="r-name" required value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} />
            </div>
            <div className="field">
              <label htmlFor="r-desc">{t('roles.description')}</label>
              <input id="r-desc" value={form.description} onChange={(e) => setForm({ ...form, description: e.target.value })} />
            </div>
          </div>
          <fieldset className="perm-grid">
            <legend>{t('roles.permissions')}</legend>
            {permissions.map((p) => (
              <label key={p} className="check">
                <input
                  type="checkbox"
                  checked={form.permissions.includes(p)}
                  onChange={() =>
                    setForm({
                      ...form,
                      permissions: form.permissions.includes(p) ? form.permissions.filter((x) => x !== p) : [...form.permissions, p],
                    })
                  }
                />
                <code>{p}</code>
              </label>
            ))}
          </fieldset>
          <button type="submit" className="btn btn-primary">
            {t('roles.create_button')}
          </button>
        </form>
      )}
    </div>
  );
}

export function KeysTab() {
  const { t, lang } = useI18n();
  const me = useMe();
  const errorText = useErrorText();
  const isAdmin = hasPermission(me, 'api_keys:admin');
  const [keys, setKeys] = useState<ApiKey[] | null>(null);
  const [users, setUsers] = useState<User[]>([]);
  const [error, setError] = useState('');
  const [created, setCreated] = useState<ApiKey | null>(null);
  const [form, setForm] = useState({ name: '', permissions: 'chat:use', expires_in_days: 90 });

  const load = () =>
    api<{ items: ApiKey[] }>('GET', isAdmin ? '/api/v1/admin/api-keys' : '/api/v1/api-keys')
      .then((r) => setKeys(r.items))
      .catch((e) => setError(errorText(e)));
  useEffect(() => {
    load();
    if (hasPermission(me, 'users:read')) {
      api<{ items: User[] }>('GET', '/api/v1/admin/users?limit=1000')
        .then((r) => setUsers(r.items))
        .catch(() => {});
    }
  }, []); // eslint-disable-line react-hooks/exhaustive-deps

  async function create(e: FormEvent) {
    e.preventDefault();
    try {
      const k = await api<ApiKey>('POST', '/api/v1/api-keys', {
        name: form.name,
        permissions: form.permissions
          .split(/[\s,]+/)
          .map((x) => x.trim())
          .filter(Boolean),
        expires_in_days: Number(form.expires_in_days),
      });
      setCreated(k);
      setForm({ ...form, name: '' });
      load();
    } catch (err) {
      setError(errorText(err));
    }
  }

  async function revoke(k: ApiKey) {
    if (!window.confirm(t('keys.revoke_confirm', { name: k.name }))) return;
    try {
      await api('DELETE', k.owner_id === me?.id ? `/api/v1/api-keys/${k.id}` : `/api/v1/admin/api-keys/${k.id}`);
      load();
    } catch (err) {
      setError(errorText(err));
    }
  }

  const owner = (id: string) => users.find((u) => u.id === id)?.email ?? id;

  return (
    <div>
      {error && (
        <Notice kind="error" onClose={() => setError('')}>
          {error}
        </Notice>
      )}
      {created?.key && (
        <Notice kind="success" onClose={() => setCreated(null)}>
          {t('keys.created')} <code className="secret">{created.key}</code>
        </Notice>
      )}
      {keys === null ? (
        <p role="status">{t('common.loading')}</p>
      ) : keys.length === 0 ? (
        <p className="muted">{t('keys.none')}</p>
      ) : (
        <div className="table-wrap">
          <table className="table">
            <caption className="visually-hidden">{t('admin.keys')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('keys.name')}</th>
                {isAdmin && <th scope="col">{t('keys.owner')}</th>}
                <th scope="col">{t('keys.prefix')}</th>
                <th scope="col">{t('keys.permissions')}</th>
                <th scope="col">{t('keys.expires')}</th>
                <th scope="col">{t('keys.last_used')}</th>
                <th scope="col">{t('common.actions')}</th>
              </tr>
            </thead>
            <tbody>
              {keys.map((k) => (
                <tr key={k.id}>
                  <td>{k.name}</td>
                  {isAdmin && <td>{owner(k.owner_id)}</td>}
                  <td>
                    <code>{k.prefix}</code>
                  </td>
                  <td className="small">{k.permissions.join(', ')}</td>
                  <td className="small">{k.expires_at ? formatDate(lang, k.expires_at) : t('keys.never')}</td>
                  <td className="small">{k.last_used_at ? formatDate(lang, k.last_used_at) : '—'}</td>
                  <td>
                    {k.revoked_at ? (
                      <span className="badge badge-failed">{t('keys.revoked')}</span>
                    ) : (
                      <button type="button" className="btn btn-small btn-ghost" onClick={() => revoke(k)}>
                        {t('keys.revoke')}
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <form className="card form" onSubmit={create} aria-labelledby="new-key-h">
        <h2 id="new-key-h">{t('keys.create')}</h2>
        <div className="grid-2">
          <div className="field">
            <label htmlFor="k-name">{t('keys.name')}</label>
            <input id="k-name" required maxLength={100} value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} />
          </div>
          <div className="field">
            <label htmlFor="k-perms">{t('keys.permissions')}</label>
            <input id="k-perms" value={form.permissions} onChange={(e) => setForm({ ...form, permissions: e.target.value })} />
          </div>
          <div className="field">
            <label htmlFor="k-days">{t('keys.days')}</label>
            <input
              id="k-days"
              type="number"
              min={0}
              max={3650}
              value={form.expires_in_days}
              onChange={(e) => setForm({ ...form, expires_in_days: Number(e.target.value) })}
            />
          </div>
        </div>
        <button type="submit" className="btn btn-primary">
          {t('keys.create_button')}
        </button>
      </form>
    </div>
  );
}
