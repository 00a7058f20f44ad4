'use client';

import Link from 'next/link';
import { useI18n } from '@/lib/i18n';

export default function NotFound() {
  const { t } = useI18n();
  return (
    <main className="center-page">
      <div className="card narrow">
        <h1>{t('notfound.title')}</h1>
        <p>{t('notfound.text')}</p>
        <Link href="/chat/" className="btn btn-primary">
          {t('notfound.home')}
        </Link>
      </div>
    </main>
  );
}
