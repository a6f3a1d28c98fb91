// The renderer's Content-Security-Policy, one definition for both faces: the renderer build puts it
// in index.html's <meta> (what Electron's file:// page obeys) and the loopback bridge sends it as a
// header too, adding what only a header can say (frame-ancestors).
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');
