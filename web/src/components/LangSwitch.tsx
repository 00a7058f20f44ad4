'use client';

import { useI18n } from '@/lib/i18n';

export default function LangSwitch() {
  const { lang, setLang, t } = useI18n();
  return (
    <div className="lang-switch" role="group" aria-label={t('lang.label')}>
      <button type="button" aria-pressed={lang === 'de'} onClick={() => setLang('de')} lang="de">
        DE
      </button>
      <button type="button" aria-pressed={lang === 'en'} onClick={() => setLang('en')} lang="en">
        EN
      </button>
    </div>
  );
}
