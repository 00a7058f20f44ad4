// A persona's avatar: the uploaded image (fetched with the session's token, since an
// <img> cannot send one) when there is one, else the generated SVG drawn locally.
'use client';

import { useEffect, useState } from 'react';
import { authFetch } from '@/lib/api';
import { avatarDataUrl } from './avatar';

interface Props {
  id: string;
  name: string;
  etag?: string;  // set when an image was uploaded
  size: number;
  alt: string;
}

export default function PersonaAvatar({ id, name, etag, size, alt }: Props) {
  const [url, setUrl] = useState<string | null>(null);
  useEffect(() => {
    if (!id || !etag) {
      setUrl(null);
      return;
    }
    let objectUrl: string | null = null;
    let live = true;
    authFetch(`/api/v1/personas/${encodeURIComponent(id)}/avatar`)
      .then((res) => (res.ok && res.headers.get('content-type') === 'image/png' ? res.blob() : null))
      .then((blob) => {
        if (!live || !blob) return;
        objectUrl = URL.createObjectURL(blob);
        setUrl(objectUrl);
      })
      .catch(() => {});
    return () => {
      live = false;
      if (objectUrl) URL.revokeObjectURL(objectUrl);
    };
  }, [id, etag]);
  return <img src={url ?? avatarDataUrl(name || '?')} alt={alt} width={size} height={size} className="avatar" />;
}
