// A page that moves the browser on by itself (a meta refresh, with a link for when it does not),
// where a 303 will not do: after the provider's cross-site redirect a browser withholds the new
// SameSite=Strict session cookie from a further redirect, and after a form POST the pages'
// `form-action 'self'` policy forbids a redirect to the identity provider.
const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function onwardPage(to: string, title: string, text: string): Response {
  const href = escapeHtml(to);
  const body = `<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=${href}"><title>${escapeHtml(title)} · gatelog</title><p>${escapeHtml(text)} <a href="${href}">Continue</a></p>`;
  return new Response(body, { status: 200, headers: { 'content-type': 'text/html; charset=utf-8' } });
}
