'use client';

import { useEffect } from 'react';
import { loadSession } from '@/lib/api';
import { useI18n } from '@/lib/i18n';

export default function Home() {
  const { t } = useI18n();
  useEffect(() => {
    window.location.replace(loadSession() ? '/chat/' : '/login/');
  }, []);
  return (
    <div className="loading-screen" role="status">
      {t('common.loading')}
    </div>
  );
}
