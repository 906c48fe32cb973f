// What an SDK puts on the wire: a fetch for its `fetch` option that keeps each request's URL,
// content type and body bytes before sending it on unchanged.

export interface Sent {
  url: string;
  contentType: string;
  body: Buffer;
}

export function keepingFetch(sent: Sent[]): (input: string | URL | Request, init?: RequestInit) => Promise<Response> {
  return async (input, init) => {
    const req = new Request(input, init);
    const body = Buffer.from(await req.arrayBuffer());
    sent.push({ url: req.url, contentType: req.headers.get('content-type') ?? '', body });
    return fetch(req.url, { method: req.method, headers: req.headers, ...(body.length > 0 ? { body } : {}), ...(init?.signal ? { signal: init.signal } : {}) });
  };
}
