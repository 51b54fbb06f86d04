/** Write tokens as the client merges them, with the one codec of their format (core/src/write-token.ts): opaque to applications, a client waits for all its pushes. */
import { decodeWriteToken, encodeWriteToken, mergeWriteOffsets } from '../../core/src/write-token';

/** One token that waits for everything both do (per partition, the higher offset); `b` alone when `a` is not a token. */
export function mergeTokens(a: string, b: string): string {
  try {
    const offsets = decodeWriteToken(a);
    mergeWriteOffsets(offsets, decodeWriteToken(b));
    return encodeWriteToken(offsets);
  } catch {
    return b;
  }
}
