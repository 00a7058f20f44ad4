// The API client: same-origin JSON calls with the session's access token, refresh-token
// rotation (one refresh at a time, across tabs too), and the end of an expired session.
'use client';

export interface User {
  id: string;
  email: string;
  display_name: string;
  status: string;
  roles: string[];
  created_at: string;
  locked_until?: string;
  permissions?: string[];
  auth?: string;
}

export interface Session {
  access_token: string;
  refresh_token: string;
  expires_at: number; // ms since the epoch
  user: User;
}

const SESSION_KEY = 'wattos.session';

export function loadSession(): Session | null {
  if (typeof window === 'undefined') return null;
  try {
    const raw = window.localStorage.getItem(SESSION_KEY);
    if (!raw) return null;
    const s = JSON.parse(raw) as Session;
    return s && typeof s.access_token === 'string' && typeof s.refresh_token === 'string' ? s : null;
  } catch {
    return null;
  }
}

export function saveSession(s: Session): void {
  window.localStorage.setItem(SESSION_KEY, JSON.stringify(s));
}

export function clearSession(): void {
  window.localStorage.removeItem(SESSION_KEY);
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly requestId = '',
  ) {
    super(message);
  }
}

// An answer's error body ({"error":{code,message,request_id}}) as an ApiError.
export async function errorOf(res: Response): Promise<ApiError> {
  let code = 'http_' + res.status;
  let message = res.statusText || `HTTP ${res.status}`;
  let requestId = '';
  try {
    const body = await res.json();
    if (body && body.error) {
      code = body.error.code || code;
      message = body.error.message || message;
      requestId = body.error.request_id || '';
    }
  } catch {
    /* not JSON */
  }
  return new ApiError(res.status, code, message, requestId);
}

export async function login(email: string, password: string): Promise<Session> {
  const res = await fetch('/api/v1/auth/login', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  if (!res.ok) throw await errorOf(res);
  const j = await res.json();
  const s: Session = {
    access_token: j.access_token,
    refresh_token: j.refresh_token,
    expires_at: Date.now() + j.expires_in * 1000,
    user: j.user,
  };
  saveSession(s);
  return s;
}

export async function logout(): Promise<void> {
  const s = loadSession();
  if (s) {
    try {
      await fetch('/api/v1/auth/logout', { method: 'POST', headers: { Authorization: `Bearer ${s.access_token}` } });
    } catch {
      /* the session ends here either way */
    }
  }
  clearSession();
}

type RefreshOutcome = 'ok' | 'rejected' | 'offline';
let refreshing: Promise<RefreshOutcome> | null = null;

// Trades the refresh token for a new pair. A refresh token works once: presenting a spent
// one revokes the session, so only one refresh runs at a time (a Web Lock across tabs), and
// a tab that finds the stored token already renewed by another uses that one.
export function refreshSession(staleAccessToken: string): Promise<RefreshOutcome> {
  if (refreshing) return refreshing;
  const run = async (): Promise<RefreshOutcome> => {
    const s = loadSession();
    if (!s) return 'rejected';
    if (s.access_token !== staleAccessToken) return 'ok';
    let res: Response;
    try {
      res = await fetch('/api/v1/auth/refresh', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ refresh_token: s.refresh_token }),
      });
    } catch {
      return 'offline';
    }
    if (res.status === 429 || res.status >= 500) return 'offline';
    if (!res.ok) return 'rejected';
    const j = await res.json();
    saveSession({ ...s, access_token: j.access_token, refresh_token: j.refresh_token, expires_at: Date.now() + j.expires_in * 1000 });
    return 'ok';
  };
  const locks = typeof navigator !== 'undefined' ? navigator.locks : undefined;
  const p: Promise<RefreshOutcome> = (locks ? locks.request('wattos-refresh', () => run()).then((r) => r) : run()).finally(() => {
    refreshing = null;
  });
  refreshing = p;
  return p;
}

// The session is over: back to the login page, which says so and returns here afterwards.
export function endExpiredSession(): void {
  clearSession();
  const here = window.location.pathname + window.location.search;
  const next = here.startsWith('/login') ? '/chat/' : here;
  window.location.assign(`/login/?expired=1&next=${encodeURIComponent(next)}`);
}

// fetch with the access token; a 401 refreshes once and retries; a refused refresh ends the session.
export async function authFetch(path: string, init: RequestInit = {}): Promise<Response> {
  const s = loadSession();
  if (!s) {
    endExpiredSession();
    throw new ApiError(401, 'unauthenticated', 'not signed in');
  }
  const withToken = (token: string): RequestInit => {
    const headers = new Headers(init.headers);
    headers.set('Authorization', `Bearer ${token}`);
    return { ...init, headers };
  };
  let res = await fetch(path, withToken(s.access_token));
  if (res.status !== 401) return res;
  const outcome = await refreshSession(s.access_token);
  if (outcome === 'offline') throw new ApiError(0, 'unavailable', 'offline');
  const renewed = outcome === 'ok' ? loadSession() : null;
  if (!renewed) {
    endExpiredSession();
    throw new ApiError(401, 'unauthenticated', 'session expired');
  }
  res = await fetch(path, withToken(renewed.access_token));
  if (res.status === 401) {
    endExpiredSession();
    throw new ApiError(401, 'unauthenticated', 'session expired');
  }
  return res;
}

// A JSON call: the parsed answer (null for 204), or an ApiError.
export async function api<T = unknown>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const init: RequestInit = { method, signal };
  if (body !== undefined) {
    init.headers = { 'Content-Type': 'application/json' };
    init.body = JSON.stringify(body);
  }
  let res: Response;
  try {
    res = await authFetch(path, init);
  } catch (e) {
    if (e instanceof ApiError) throw e;
    if (e instanceof DOMException && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'unavailable', String(e));
  }
  if (!res.ok) throw await errorOf(res);
  if (res.status === 204) return null as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : null) as T;
}

export function hasPermission(user: User | null, permission: string): boolean {
  const p = user?.permissions ?? [];
  return p.includes('*') || p.includes(permission);
}
