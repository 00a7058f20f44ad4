'use client';

import { useEffect, useState } from 'react';
import Shell from '@/components/Shell';
import SpaceDetail from './SpaceDetail';
import SpaceList from './SpaceList';

export default function SpacesPage() {
  const [id, setId] = useState<string | null | undefined>(undefined);
  useEffect(() => {
    const read = () => setId(new URLSearchParams(window.location.search).get('id'));
    read();
    window.addEventListener('popstate', read);
    return () => window.removeEventListener('popstate', read);
  }, []);
  const open = (next: string | null) => {
    window.history.pushState(null, '', next ? `/spaces/?id=${encodeURIComponent(next)}` : '/spaces/');
    setId(next);
  };
  return <Shell>{id === undefined ? null : id ? <SpaceDetail id={id} onBack={() => open(null)} /> : <SpaceList onOpen={open} />}</Shell>;
}
