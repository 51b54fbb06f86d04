/** `Content-Type` headers → a lowercase media type, with the one charset every push protocol accepts (UTF-8). */
import { UnsupportedMediaTypeError } from '../../../core/src/errors';

/** A parsed `Content-Type`: the media type (lowercase, no parameters) and its parameters (names lowercase). */
export interface MediaType {
  type: string;
  params: Map<string, string>;
}

/**
 * Parses a `Content-Type` header; `supported` names what the route accepts, for the 415 message.
 * A missing header is a 415 unless `fallback` gives the type to assume (as some protocols define);
 * a charset other than UTF-8 is a 415.
 */
export function parseMediaType(header: string | string[] | undefined, supported: string, fallback?: string): MediaType {
  const raw = Array.isArray(header) ? header[0] : header;
  if (raw === undefined || raw.trim() === '') {
    if (fallback !== undefined) return { type: fallback, params: new Map() };
    throw new UnsupportedMediaTypeError('SILT_UNSUPPORTED_CONTENT_TYPE', `Content-Type is missing: send ${supported}`, { contentType: null });
  }
  const parts = raw.split(';');
  const type = parts[0]!.trim().toLowerCase();
  const params = new Map<string, string>();
  for (const param of parts.slice(1)) {
    const eq = param.indexOf('=');
    if (eq < 0) continue;
    params.set(
      param.slice(0, eq).trim().toLowerCase(),
      param
        .slice(eq + 1)
        .trim()
        .replace(/^"(.*)"$/, '$1'),
    );
  }
  const charset = params.get('charset')?.toLowerCase();
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    throw new UnsupportedMediaTypeError('SILT_UNSUPPORTED_CONTENT_TYPE', `charset "${charset}" is not supported: send UTF-8`, { contentType: raw });
  }
  return { type, params };
}

/** The 415 for a media type a route does not take. */
export function unsupportedType(type: string, supported: string): UnsupportedMediaTypeError {
  return new UnsupportedMediaTypeError('SILT_UNSUPPORTED_CONTENT_TYPE', `Content-Type "${type}" is not supported here: send ${supported}`, { contentType: type });
}
