// Answers that are not text (synthesised speech, and any audio, image, video or octet-stream
// body) are never stored: the record keeps their content type and size instead of the bytes.

const OPAQUE = /^\s*(?:audio\/|image\/|video\/|application\/octet-stream)/i;

/** The content type names bytes that are not text (asked of every answer: no string is built). */
export function isOpaqueContentType(ct: unknown): boolean {
  return typeof ct === 'string' && OPAQUE.test(ct);
}

/** The stored stand-in for an opaque body: `{"content_type":…,"bytes":…}`. */
export function opaqueBodyText(contentType: string, bytes: number): string {
  return JSON.stringify({ content_type: contentType, bytes });
}
