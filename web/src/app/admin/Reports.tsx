// Admin tabs for records: the audit log, feedback review, usage by user, model and day.
'use client';

import { useEffect, useState, type FormEvent } from 'react';
import Notice, { useErrorText } from '@/components/Notice';
import { api, type User } from '@/lib/api';
import type { Citation } from '@/lib/chat';
import { formatDate, useI18n } from '@/lib/i18n';

interface AuditRow {
  seq: number;
  at_ms: number;
  actor: string;
  action: string;
  target: string;
  outcome: string;
  request_id: string;
  ip: string;
  details: string;
}

export function AuditTab() {
  const { t, lang } = useI18n();
  const errorText = useErrorText();
  const [rows, setRows] = useState<AuditRow[]>([]);
  const [next, setNext] = useState<number | null>(null);
  const [filter, setFilter] = useState({ action: '', actor: '', outcome: '' });
  const [error, setError] = useState('');
  const [verify, setVerify] = useState<{ intact: boolean; rows: number; problem?: string } | null>(null);
  const [loading, setLoading] = useState(true);

  const query = (before?: number) => {
    const q = new URLSearchParams({ limit: '50' });
    if (filter.action) q.set('action', filter.action);
    if (filter.actor) q.set('actor', filter.actor);
    if (filter.outcome) q.set('outcome', filter.outcome);
    if (before) q.set('before_seq', String(before));
    return `/api/v1/admin/audit?${q}`;
  };

  const load = async (before?: number) => {
    setLoading(true);
    try {
      const r = await api<{ items: AuditRow[]; next_before_seq?: number }>('GET', query(before));
      setRows((x) => (before ? [...x, ...r.items] : r.items));
      setNext(r.items.length === 50 && r.next_before_seq ? r.next_before_seq : null);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => {
    load();
  }, []); // eslint-disable-line react-hooks/exhaustive-deps

  async function runVerify() {
    try {
      setVerify(await api('GET', '/api/v1/admin/audit/verify'));
    } catch (e) {
      setError(errorText(e));
    }
  }

  return (
    <div>
      {error && (
        <Notice kind="error" onClose={() => setError('')}>
          {error}
        </Notice>
      )}
      <form
        className="form inline-form"
        onSubmit={(e: FormEvent) => {
          e.preventDefault();
          load();
        }}
      >
        <div className="field">
          <label htmlFor="a-action">{t('audit.action')}</label>
          <input id="a-action" value={filter.action} onChange={(e) => setFilter({ ...filter, action: e.target.value })} />
        </div>
        <div className="field">
          <label htmlFor="a-actor">{t('audit.actor')}</label>
          <input id="a-actor" value={filter.actor} onChange={(e) => setFilter({ ...filter, actor: e.target.value })} />
        </div>
        <div className="field">
          <label htmlFor="a-outcome">{t('audit.outcome')}</label>
          <input
            id="a-outcome"
            value={filter.outcome}
            placeholder="200, 401, success, failure"
            onChange={(e) => setFilter({ ...filter, outcome: e.target.value })}
          />
        </div>
        <button type="submit" className="btn btn-primary">
          {t('audit.filter')}
        </button>
        <button type="button" className="btn" onClick={runVerify}>
          {t('audit.verify')}
        </button>
      </form>
      {verify && (
        <Notice kind={verify.intact ? 'success' : 'error'} onClose={() => setVerify(null)}>
          {verify.intact ? t('audit.intact', { n: verify.rows }) : t('audit.broken', { problem: verify.problem ?? '' })}
        </Notice>
      )}
      <div className="table-wrap">
        <table className="table audit-table">
          <caption className="visually-hidden">{t('admin.audit')}</caption>
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">{t('audit.time')}</th>
              <th scope="col">{t('audit.actor')}</th>
              <th scope="col">{t('audit.action')}</th>
              <th scope="col">{t('audit.target')}</th>
              <th scope="col">{t('audit.outcome')}</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.seq} className="audit-row">
                <td>{r.seq}</td>
                <td className="small">{formatDate(lang, r.at_ms)}</td>
                <td className="small">{r.actor}</td>
                <td>
                  <code>{r.action}</code>
                </td>
                <td className="small break">{r.target}</td>
                <td>
                  <span className={`badge badge-${r.outcome}`}>{r.outcome}</span>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {loading && <p role="status">{t('common.loading')}</p>}
      {!loading && rows.length === 0 && <p className="muted">{t('audit.none')}</p>}
      {next && !loading && (
        <button type="button" className="btn" onClick={() => load(next)}>
          {t('common.more')}
        </button>
      )}
    </div>
  );
}

interface FeedbackItem {
  message_id: string;
  user_id: string;
  rating: number;
  comment: string;
  question: string;
  answer: string;
  citations: Citation[];
  model: string;
  created_at: string;
}

export function FeedbackTab() {
  const { t, lang } = useI18n();
  const errorText = useErrorText();
  const [rating, setRating] = useState('');
  const [items, setItems] = useState<FeedbackItem[] | null>(null);
  const [error, setError] = useState('');
  useEffect(() => {
    setItems(null);
    api<{ items: FeedbackItem[] }>('GET', `/api/v1/admin/feedback${rating ? `?rating=${rating}` : ''}`)
      .then((r) => setItems(r.items))
      .catch((e) => setError(errorText(e)));
  }, [rating]); // eslint-disable-line react-hooks/exhaustive-deps
  return (
    <div>
      {error && <Notice kind="error">{error}</Notice>}
      <div className="form inline-form">
        <div className="field">
          <label htmlFor="f-rating">{t('feedback.rating')}</label>
          <select id="f-rating" value={rating} onChange={(e) => setRating(e.target.value)}>
            <option value="">{t('audit.any')}</option>
            <option value="1">+1</option>
            <option value="-1">−1</option>
          </select>
        </div>
      </div>
      {items === null ? (
        <p role="status">{t('common.loading')}</p>
      ) : items.length === 0 ? (
        <p className="muted">{t('feedback.none')}</p>
      ) : (
        <ul className="feedback-list">
          {items.map((f) => (
            <li key={f.message_id + f.user_id} className="card feedback-item">
              <div className="feedback-head">
                <span className={`badge ${f.rating > 0 ? 'badge-done' : 'badge-failed'}`}>{f.rating > 0 ? '+1' : '−1'}</span>
                <span className="small muted">
                  {formatDate(lang, f.created_at)} · {f.model}
                </span>
              </div>
              <p>
                <strong>{t('feedback.question')}:</strong> {f.question}
              </p>
              <p>
                <strong>{t('feedback.answer')}:</strong> {f.answer}
              </p>
              {f.comment && (
                <p>
                  <strong>{t('feedback.comment')}:</strong> {f.comment}
                </p>
              )}
              {f.citations.length > 0 && (
                <p className="small muted">
                  {t('chat.sources')}: {f.citations.map((c) => `[${c.number}] ${c.title}${c.page ? ` (${t('chat.page', { p: c.page })})` : ''}`).join('; ')}
                </p>
              )}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

interface UsageRow {
  [key: string]: string | number;
  requests: number;
  failed: number;
  prompt_tokens: number;
  completion_tokens: number;
  cost: number;
  avg_latency_ms: number;
}

export function UsageTab() {
  const { t } = useI18n();
  const errorText = useErrorText();
  const [groupBy, setGroupBy] = useState('model');
  const [rows, setRows] = useState<UsageRow[] | null>(null);
  const [users, setUsers] = useState<User[]>([]);
  const [error, setError] = useState('');
  useEffect(() => {
    api<{ items: User[] }>('GET', '/api/v1/admin/users?limit=1000')
      .then((r) => setUsers(r.items))
      .catch(() => {});
  }, []);
  useEffect(() => {
    setRows(null);
    api<{ data: UsageRow[] }>('GET', `/api/v1/admin/usage?group_by=${groupBy}`)
      .then((r) => setRows(r.data))
      .catch((e) => setError(errorText(e)));
  }, [groupBy]); // eslint-disable-line react-hooks/exhaustive-deps
  const label = (v: string | number) => (groupBy === 'user' ? users.find((u) => u.id === v)?.email ?? String(v) : String(v));
  return (
    <div>
      {error && <Notice kind="error">{error}</Notice>}
      <div className="form inline-form">
        <div className="field">
          <label htmlFor="u-group">{t('usage.group_by')}</label>
          <select id="u-group" value={groupBy} onChange={(e) => setGroupBy(e.target.value)}>
            <option value="model">{t('usage.by_model')}</option>
            <option value="user">{t('usage.by_user')}</option>
            <option value="day">{t('usage.by_day')}</option>
          </select>
        </div>
      </div>
      {rows === null ? (
        <p role="status">{t('common.loading')}</p>
      ) : rows.length === 0 ? (
        <p className="muted">{t('usage.none')}</p>
      ) : (
        <div className="table-wrap">
          <table className="table">
            <caption className="visually-hidden">{t('admin.usage')}</caption>
            <thead>
              <tr>
                <th scope="col">{t(`usage.col_${groupBy}` as never)}</th>
                <th scope="col" className="num">{t('usage.requests')}</th>
                <th scope="col" className="num">{t('usage.failed')}</th>
                <th scope="col" className="num">{t('usage.prompt')}</th>
                <th scope="col" className="num">{t('usage.completion')}</th>
                <th scope="col" className="num">{t('usage.cost')}</th>
                <th scope="col" className="num">{t('usage.latency')}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={String(r[groupBy])}>
                  <td>{label(r[groupBy])}</td>
                  <td className="num">{r.requests}</td>
                  <td className="num">{r.failed}</td>
                  <td className="num">{r.prompt_tokens}</td>
                  <td className="num">{r.completion_tokens}</td>
                  <td className="num">{Number(r.cost).toFixed(4)}</td>
                  <td className="num">{Math.round(r.avg_latency_ms)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
