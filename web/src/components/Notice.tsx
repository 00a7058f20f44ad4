'use client';

import { ApiError } from '@/lib/api';
import { useI18n } from '@/lib/i18n';
import type { StringKey } from '@/lib/strings';

// An error as a sentence for the user: known codes get their own text, others the server's message.
export function useErrorText() {
  const { t } = useI18n();
  return (e: unknown): string => {
    if (e instanceof ApiError) {
      if (e.status === 0) return t('error.offline');
      const known: Record<string, StringKey> = {
        permission_denied: 'error.forbidden',
        not_found: 'error.not_found',
        resource_exhausted: 'error.rate_limited',
        unavailable: 'error.unavailable',
      };
      const key = known[e.code];
      const base = key ? t(key) : t('error.generic');
      return e.message && !key ? `${base}: ${e.message}` : key && e.message ? `${base} (${e.message})` : base;
    }
    if (e instanceof TypeError) return t('error.offline');
    if (e instanceof Error) return `${t('error.generic')}: ${e.message}`;
    return t('error.generic');
  };
}

export default function Notice({
  kind = 'error',
  children,
  onClose,
}: {
  kind?: 'error' | 'info' | 'success' | 'warn';
  children: React.ReactNode;
  onClose?: () => void;
}) {
  const { t } = useI18n();
  return (
    <div className={`notice notice-${kind}`} role={kind === 'error' ? 'alert' : 'status'}>
      <div className="notice-text">{children}</div>
      {onClose && (
        <button type="button" className="btn btn-ghost btn-icon" onClick={onClose} aria-label={t('common.dismiss')}>
          ×
        </button>
      )}
    </div>
  );
}
