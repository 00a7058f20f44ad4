// One knowledge space: its documents (upload by drag and drop, live ingestion progress,
// status and errors, retry, delete) and its members.
'use client';

import { useCallback, useEffect, useRef, useState, type DragEvent, type FormEvent } from 'react';
import Notice, { useErrorText } from '@/components/Notice';
import { useMe } from '@/components/Shell';
import { api, ApiError, authFetch, errorOf, hasPermission, loadSession, refreshSession, type User } from '@/lib/api';
import { formatBytes, formatDate, useI18n } from '@/lib/i18n';
import { readSse } from '@/lib/sse';
import type { StringKey } from '@/lib/strings';
import type { Space } from './SpaceList';

export interface IngestFile {
  id: string;
  space_id: string;
  filename: string;
  format: string;
  mime_type: string;
  size_bytes: number;
  sha256: string;
  status: 'queued' | 'parsing' | 'chunking' | 'embedding' | 'indexing' | 'done' | 'failed' | string;
  progress: number;
  attempts: number;
  error: string;
  chunks: number;
  pages: number;
  title?: string;
  duplicate?: boolean;
  created_at: string;
  updated_at: string;
}

interface Member {
  user_id: string;
  role: string;
}

interface Upload {
  key: number;
  names: string[];
  sent: number; // 0..1
  error: string;
}

// Sends files as multipart parts named "file"; XMLHttpRequest reports upload progress, fetch does not.
function uploadFiles(spaceId: string, files: File[], onProgress: (p: number) => void): Promise<IngestFile[]> {
  const send = (token: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open('POST', `/api/v1/spaces/${encodeURIComponent(spaceId)}/files`);
      xhr.setRequestHeader('Authorization', `Bearer ${token}`);
      xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
      xhr.onload = () => resolve({ status: xhr.status, body: xhr.responseText });
      xhr.onerror = () => reject(new ApiError(0, 'unavailable', 'network error'));
      const form = new FormData();
      for (const f of files) form.append('file', f, f.name);
      xhr.send(form);
    });
  const parse = (r: { status: number; body: string }): IngestFile[] => {
    let j: { items?: IngestFile[]; error?: { code: string; message: string; request_id?: string } } = {};
    try {
      j = JSON.parse(r.body);
    } catch {
      /* not JSON */
    }
    if (r.status >= 200 && r.status < 300) return j.items ?? [];
    throw new ApiError(r.status, j.error?.code ?? `http_${r.status}`, j.error?.message ?? '', j.error?.request_id ?? '');
  };
  return (async () => {
    const s = loadSession();
    if (!s) throw new ApiError(401, 'unauthenticated', '');
    let r = await send(s.access_token);
    if (r.status === 401 && (await refreshSession(s.access_token)) === 'ok') {
      r = await send(loadSession()!.access_token);
    }
    return parse(r);
  })();
}

const ACTIVE = new Set(['queued', 'parsing', 'chunking', 'embedding', 'indexing']);

export default function SpaceDetail({ id, onBack }: { id: string; onBack: () => void }) {
  const { t, lang } = useI18n();
  const me = useMe();
  const errorText = useErrorText();
  const [space, setSpace] = useState<Space | null>(null);
  const [files, setFiles] = useState<IngestFile[]>([]);
  const [filesState, setFilesState] = useState<'loading' | 'live' | 'reconnecting' | 'unavailable'>('loading');
  const [members, setMembers] = useState<Member[]>([]);
  const [users, setUsers] = useState<User[]>([]);
  const [uploads, setUploads] = useState<Upload[]>([]);
  const [dragging, setDragging] = useState(false);
  const [error, setError] = useState('');
  const [info, setInfo] = useState('');
  const [memberUser, setMemberUser] = useState('');
  const [memberRole, setMemberRole] = useState('read');
  const uploadKey = useRef(0);
  const fileInput = useRef<HTMLInputElement>(null);

  const canWrite = space ? ['owner', 'admin', 'write'].includes(space.access) : false;
  const canManage = space ? ['owner', 'admin'].includes(space.access) : false;

  const upsert = useCallback((f: IngestFile) => {
    setFiles((fs) => {
      const i = fs.findIndex((x) => x.id === f.id);
      if (i < 0) return [f, ...fs];
      const copy = [...fs];
      copy[i] = f;
      return copy;
    });
  }, []);

  const loadSpace = useCallback(
    () =>
      api<Space>('GET', `/api/v1/spaces/${encodeURIComponent(id)}`)
        .then(setSpace)
        .catch((e) => setError(errorText(e))),
    [id], // eslint-disable-line react-hooks/exhaustive-deps
  );

  const loadMembers = useCallback(
    () =>
      api<{ items: Member[] }>('GET', `/api/v1/spaces/${encodeURIComponent(id)}/members`)
        .then((r) => setMembers(r.items))
        .catch(() => {}),
    [id],
  );

  useEffect(() => {
    loadSpace();
    loadMembers();
    if (hasPermission(me, 'users:read')) {
      api<{ items: User[] }>('GET', '/api/v1/admin/users?limit=1000')
        .then((r) => setUsers(r.items))
        .catch(() => {});
    }
  }, [id, loadSpace, loadMembers, me]);

  // The live list: a snapshot of every file, then each change, over SSE; reconnects when it drops.
  useEffect(() => {
    const controller = new AbortController();
    let stopped = false;
    (async () => {
      let failures = 0;
      while (!stopped) {
        try {
          const res = await authFetch(`/api/v1/spaces/${encodeURIComponent(id)}/files/events`, {
            headers: { Accept: 'text/event-stream' },
            signal: controller.signal,
          });
          if (res.status === 404 || res.status === 405) {
            // No ingestion on this server yet (or the space is gone): the plain list if it answers.
            try {
              const r = await api<{ items: IngestFile[] }>('GET', `/api/v1/spaces/${encodeURIComponent(id)}/files`);
              setFiles(r.items);
              setFilesState('live');
            } catch {
              setFilesState('unavailable');
            }
            return;
          }
          if (!res.ok) throw await errorOf(res);
          setFilesState('live');
          await readSse(
            res,
            (e) => {
              if (e.event !== 'file') return;
              failures = 0;
              try {
                const f = JSON.parse(e.data) as IngestFile;
                upsert(f);
              } catch {
                /* ignore */
              }
            },
            controller.signal,
          );
        } catch (e) {
          if (controller.signal.aborted) return;
          if (e instanceof ApiError && e.status === 401) return;
        }
        if (stopped) return;
        setFilesState('reconnecting');
        failures++;
        await new Promise((r) => setTimeout(r, Math.min(1000 * 2 ** Math.min(failures, 4), 15000)));
      }
    })();
    return () => {
      stopped = true;
      controller.abort();
    };
  }, [id, upsert]);

  // The reason an upload was refused, as a sentence.
  const refusal = (code: string, status: number, message: string) => {
    if (status === 413 || code === 'payload_too_large') return t('files.too_large');
    if (status === 415 || code === 'unsupported_media') return t('files.unsupported');
    if (code === 'failed_precondition') return message ? `${t('files.unreadable')} (${message})` : t('files.unreadable');
    if (status === 404 && !message) return t('files.unavailable');
    return '';
  };

  async function startUpload(list: File[]) {
    if (list.length === 0) return;
    const key = ++uploadKey.current;
    setUploads((u) => [...u, { key, names: list.map((f) => f.name), sent: 0, error: '' }]);
    try {
      const items = await uploadFiles(id, list, (p) => setUploads((u) => u.map((x) => (x.key === key ? { ...x, sent: p } : x))));
      const refused: string[] = [];
      let duplicates = 0;
      for (const item of items as Array<IngestFile & { error?: unknown; duplicate?: boolean }>) {
        if (item.error && typeof item.error === 'object') {
          const e = item.error as { code?: string; message?: string };
          refused.push(`${item.filename}: ${refusal(e.code ?? '', 0, e.message ?? '') || e.message || e.code}`);
        } else {
          if (item.duplicate) duplicates++;
          upsert(item);
        }
      }
      setUploads((u) =>
        refused.length
          ? u.map((x) => (x.key === key ? { ...x, names: refused.map((r) => r.split(':')[0]), error: refused.join('; ') } : x))
          : u.filter((x) => x.key !== key),
      );
      if (duplicates) setInfo(t('files.duplicate', { n: duplicates }));
    } catch (e) {
      const text =
        e instanceof ApiError ? refusal(e.code, e.status, e.message) || errorText(e) : errorText(e);
      setUploads((u) => u.map((x) => (x.key === key ? { ...x, error: text } : x)));
    }
  }

  function onDrop(e: DragEvent) {
    e.preventDefault();
    setDragging(false);
    if (!canWrite) return;
    startUpload(Array.from(e.dataTransfer.files));
  }

  async function retry(f: IngestFile) {
    try {
      upsert(await api<IngestFile>('POST', `/api/v1/spaces/${encodeURIComponent(id)}/files/${f.id}/retry`));
    } catch (e) {
      setError(errorText(e));
    }
  }

  async function remove(f: IngestFile) {
    if (!window.confirm(t('files.delete_confirm', { name: f.filename }))) return;
    try {
      await api('DELETE', `/api/v1/spaces/${encodeURIComponent(id)}/files/${f.id}`);
      setFiles((fs) => fs.filter((x) => x.id !== f.id));
      loadSpace();
    } catch (e) {
      setError(errorText(e));
    }
  }

  async function addMember(e: FormEvent) {
    e.preventDefault();
    if (!memberUser.trim()) return;
    try {
      await api('PUT', `/api/v1/spaces/${encodeURIComponent(id)}/members/${encodeURIComponent(memberUser.trim())}`, {
        role: memberRole,
      });
      setMemberUser('');
      loadMembers();
    } catch (err) {
      setError(errorText(err));
    }
  }

  async function removeMember(userId: string) {
    try {
      await api('DELETE', `/api/v1/spaces/${encodeURIComponent(id)}/members/${encodeURIComponent(userId)}`);
      loadMembers();
    } catch (err) {
      setError(errorText(err));
    }
  }

  async function deleteSpace() {
    if (!space || !window.confirm(t('spaces.delete_confirm', { name: space.name }))) return;
    try {
      await api('DELETE', `/api/v1/spaces/${encodeURIComponent(id)}`);
      onBack();
    } catch (err) {
      setError(errorText(err));
    }
  }

  const userLabel = (uid: string) => {
    const u = users.find((x) => x.id === uid);
    return u ? `${u.display_name || u.email} (${u.email})` : uid;
  };
  const statusText = (s: string) => t(`files.status_${s}` as StringKey) || s;
  // Keep finished files' chunk count in the space header current.
  const doneCount = files.filter((f) => f.status === 'done').length;
  useEffect(() => {
    if (doneCount > 0) loadSpace();
  }, [doneCount, loadSpace]);

  return (
    <div className="page">
      <p>
        <a
          href="/spaces/"
          onClick={(e) => {
            e.preventDefault();
            onBack();
          }}
        >
          ← {t('spaces.back')}
        </a>
      </p>
      {error && (
        <Notice kind="error" onClose={() => setError('')}>
          {error}
        </Notice>
      )}
      {!space ? (
        <p role="status">{t('common.loading')}</p>
      ) : (
        <>
          <div className="page-head">
            <div>
              <h1>{space.name}</h1>
              <p className="muted">{space.description}</p>
              <p className="small muted">
                {t(`spaces.access_${space.access}` as StringKey)} · {t('spaces.chunks', { n: space.chunks })} · {space.embedding_model}
              </p>
            </div>
            {canManage && (
              <button type="button" className="btn btn-danger" onClick={deleteSpace}>
                {t('spaces.delete')}
              </button>
            )}
          </div>

          <section aria-labelledby="docs-h" className="card">
            <h2 id="docs-h">{t('files.title')}</h2>
            {filesState === 'unavailable' && <Notice kind="info">{t('files.unavailable')}</Notice>}
            {info && (
              <Notice kind="info" onClose={() => setInfo('')}>
                {info}
              </Notice>
            )}
            {filesState === 'reconnecting' && <Notice kind="warn">{t('files.reconnecting')}</Notice>}
            {canWrite && filesState !== 'unavailable' && (
              <div
                className={`dropzone ${dragging ? 'dragging' : ''}`}
                onDragOver={(e) => {
                  e.preventDefault();
                  setDragging(true);
                }}
                onDragLeave={() => setDragging(false)}
                onDrop={onDrop}
              >
                <p>{t('files.drop')}</p>
                <label className="btn btn-primary" htmlFor="file-input">
                  {t('files.choose')}
                </label>
                <input
                  id="file-input"
                  ref={fileInput}
                  type="file"
                  multiple
                  className="visually-hidden-input"
                  onChange={(e) => {
                    startUpload(Array.from(e.target.files ?? []));
                    e.target.value = '';
                  }}
                />
                <p className="small muted">{t('files.formats')}</p>
              </div>
            )}
            {uploads.map((u) => (
              <div key={u.key} className="upload-row">
                {u.error ? (
                  <Notice kind="error" onClose={() => setUploads((x) => x.filter((y) => y.key !== u.key))}>
                    <span className="upload-error">{t('files.upload_failed', { names: u.names.join(', ') })}: {u.error}</span>
                  </Notice>
                ) : (
                  <>
                    <span>{t('files.uploading', { names: u.names.join(', ') })}</span>
                    <progress max={1} value={u.sent} aria-label={t('files.upload_progress')} />
                  </>
                )}
              </div>
            ))}
            {files.length === 0 && filesState === 'live' && <p className="muted">{t('files.none')}</p>}
            {files.length > 0 && (
              <div className="table-wrap">
                <table className="table files-table">
                  <caption className="visually-hidden">{t('files.title')}</caption>
                  <thead>
                    <tr>
                      <th scope="col">{t('files.name')}</th>
                      <th scope="col">{t('files.status')}</th>
                      <th scope="col">{t('files.size')}</th>
                      <th scope="col">{t('files.chunks')}</th>
                      <th scope="col">{t('files.updated')}</th>
                      <th scope="col">
                        <span className="visually-hidden">{t('common.actions')}</span>
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {files.map((f) => (
                      <tr key={f.id} data-status={f.status} className="file-row">
                        <td>
                          <span className="file-name">{f.filename}</span>
                          <span className="small muted"> {f.format}</span>
                          {f.title && f.title !== f.filename && <div className="small muted">{f.title}</div>}
                          {f.status === 'failed' && f.error && (
                            <div className="file-error" role="alert">
                              {f.error}
                            </div>
                          )}
                        </td>
                        <td>
                          <span className={`badge badge-${f.status}`}>{statusText(f.status)}</span>
                          {ACTIVE.has(f.status) && (
                            <progress
                              max={1}
                              value={f.progress}
                              aria-label={t('files.progress_of', { name: f.filename })}
                              className="file-progress"
                            />
                          )}
                        </td>
                        <td>{formatBytes(f.size_bytes)}</td>
                        <td>
                          {f.chunks}
                          {f.pages > 0 && <span className="small muted"> · {t('files.pages', { n: f.pages })}</span>}
                        </td>
                        <td className="small">{formatDate(lang, f.updated_at)}</td>
                        <td className="actions">
                          {canWrite && f.status === 'failed' && (
                            <button type="button" className="btn btn-small" onClick={() => retry(f)}>
                              {t('files.retry')}
                            </button>
                          )}
                          {canWrite && (
                            <button
                              type="button"
                              className="btn btn-small btn-ghost"
                              onClick={() => remove(f)}
                              aria-label={t('files.delete_named', { name: f.filename })}
                            >
                              {t('common.delete')}
                            </button>
                          )}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </section>

          <section aria-labelledby="members-h" className="card">
            <h2 id="members-h">{t('members.title')}</h2>
            <ul className="member-list">
              <li>
                {userLabel(space.owner_id)} <span className="badge">{t('spaces.access_owner')}</span>
              </li>
              {members.map((m) => (
                <li key={m.user_id}>
                  {userLabel(m.user_id)} <span className="badge">{t(`spaces.access_${m.role}` as StringKey)}</span>
                  {canManage && (
                    <button type="button" className="btn btn-small btn-ghost" onClick={() => removeMember(m.user_id)}>
                      {t('members.remove')}
                    </button>
                  )}
                </li>
              ))}
            </ul>
            {canManage && (
              <form className="form inline-form" onSubmit={addMember}>
                <div className="field grow">
                  <label htmlFor="member-user">{t('members.user')}</label>
                  {users.length > 0 ? (
                    <select id="member-user" value={memberUser} onChange={(e) => setMemberUser(e.target.value)} required>
                      <option value="">{t('members.pick')}</option>
                      {users
                        .filter((u) => u.id !== space.owner_id)
                        .map((u) => (
                          <option key={u.id} value={u.id}>
                            {u.display_name || u.email} ({u.email})
                          </option>
                        ))}
                    </select>
                  ) : (
                    <input id="member-user" value={memberUser} onChange={(e) => setMemberUser(e.target.value)} required />
                  )}
                </div>
                <div className="field">
                  <label htmlFor="member-role">{t('members.role')}</label>
                  <select id="member-role" value={memberRole} onChange={(e) => setMemberRole(e.target.value)}>
                    <option value="read">{t('spaces.access_read')}</option>
                    <option value="write">{t('spaces.access_write')}</option>
                  </select>
                </div>
                <button type="submit" className="btn btn-primary">
                  {t('members.add')}
                </button>
              </form>
            )}
          </section>
        </>
      )}
    </div>
  );
}
