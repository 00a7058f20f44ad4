// A static export: no server features. The gateway serves web/out at / (server.static_dir);
// trailingSlash puts each page at <route>/index.html, which its static handler resolves.
/** @type {import('next').NextConfig} */
const nextConfig = {
  output: 'export',
  trailingSlash: true,
  images: { unoptimized: true },
  reactStrictMode: true,
  poweredByHeader: false,
};

export default nextConfig;
