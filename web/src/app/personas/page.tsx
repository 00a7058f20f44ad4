'use client';

import Shell from '@/components/Shell';
import PersonasView from './PersonasView';

export default function PersonasPage() {
  return (
    <Shell>
      <PersonasView />
    </Shell>
  );
}
