'use client';

import Shell from '@/components/Shell';
import AdminView from './AdminView';

export default function AdminPage() {
  return (
    <Shell wide>
      <AdminView />
    </Shell>
  );
}
