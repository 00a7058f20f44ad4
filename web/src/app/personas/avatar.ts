// The persona avatar as the server draws it (persona::avatar_svg): initials on a colour
// from an FNV-1a hash of the name, so the editor can preview it before saving.
export function avatarSvg(name: string): string {
  const bytes = new TextEncoder().encode(name);
  let h = 2166136261 >>> 0;
  for (const b of bytes) h = Math.imul(h ^ b, 16777619) >>> 0;
  const hue = h % 360;
  let initials = '';
  let next = true;
  for (let i = 0; i < bytes.length && initials.length < 2; i++) {
    const ch = bytes[i];
    const alnum = (ch >= 48 && ch <= 57) || (ch >= 65 && ch <= 90) || (ch >= 97 && ch <= 122);
    if (ch === 32 || ch === 45) next = true;
    else if (next && alnum) {
      initials += String.fromCharCode(ch).toUpperCase();
      next = false;
    }
  }
  if (!initials) initials = '?';
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 128 128" role="img" aria-label="${initials}">` +
    `<circle cx="64" cy="64" r="64" fill="hsl(${hue},55%,42%)"/>` +
    `<text x="64" y="80" font-family="sans-serif" font-size="48" text-anchor="middle" fill="#fff">${initials}</text></svg>`
  );
}

export function avatarDataUrl(name: string): string {
  return `data:image/svg+xml;charset=utf-8,${encodeURIComponent(avatarSvg(name))}`;
}
