/**
 * A frame as a storage node keeps it, by the version its value header records: 1, a block's frame
 * as ingest wrote it (docs/FORMAT.md, "Frame payload"), or 2, the columnar frame v2 that
 * compaction writes ("Frame v2"). Readers go through here and never ask which one they hold.
 */
import { BLOCK_FORMAT_VERSION, type BlockEntry, PayloadTimes, decodeFrameBytes, decodeFrameTimes } from './block-format';
import { BlockFormatError } from './errors';
import { FRAME_V2_VERSION, type FrameV2Header, readDetachedFrameV2Header, readFrameV2Header } from './frame-v2';
import { NeedleSet, type TimeRange, decodeFrameV2, decodeFrameV2Times, filterAllows } from './frame-v2-decode';

export { NeedleSet, PayloadTimes, type TimeRange };

/** Throws `SILT_BLOCK_VERSION` for a version no reader here decodes (checked before any decompression). */
export function checkStoredFrameVersion(version: number): void {
  if (version !== BLOCK_FORMAT_VERSION && version !== FRAME_V2_VERSION) {
    throw new BlockFormatError('SILT_BLOCK_VERSION', `stored frame of version ${version} (this reader knows ${BLOCK_FORMAT_VERSION} and ${FRAME_V2_VERSION})`, { version });
  }
}

/**
 * Every entry of a stored frame; with `needles`, null when some needle is in no line (a v2
 * frame's token filter may tell without decompressing anything). `rawLength` and `frameCrc` are
 * the value header's; a v2 frame checks its own header and columns instead. With `range`, entries
 * outside it may decode with an empty line (a v2 frame leaves them so; they keep their places).
 */
export function decodeStoredFrame(version: number, frame: Uint8Array, rawLength: number, frameCrc: number, needles?: NeedleSet, range?: TimeRange): BlockEntry[] | null {
  checkStoredFrameVersion(version);
  if (version === FRAME_V2_VERSION) return decodeFrameV2(frame, needles, range);
  return decodeFrameBytes(frame, rawLength, frameCrc, needles?.needles);
}

/** A stored frame's own header, read without decompressing anything: v2 frames have one (entry count, time range, lines' bytes, attribute keys); null for v1. */
export function storedFrameHeader(version: number, frame: Uint8Array): FrameV2Header | null {
  return version === FRAME_V2_VERSION ? readFrameV2Header(frame) : null;
}

/**
 * The timestamps and line lengths of a stored frame without its entries, into `out`; false when
 * the frame may hold structured metadata (a v2 frame's header says whether it does; a v1 frame
 * tells only once read) or times beyond exact doubles, so the caller decodes it whole. `header` is
 * storedFrameHeader's answer when the caller has it.
 */
export function decodeStoredFrameTimes(version: number, frame: Uint8Array, rawLength: number, frameCrc: number, entryCount: number, out: PayloadTimes, header = storedFrameHeader(version, frame)): boolean {
  checkStoredFrameVersion(version);
  if (header !== null) return header.attrKeyCount === 0 && decodeFrameV2Times(frame, out, header);
  return decodeFrameTimes(frame, rawLength, frameCrc, entryCount, out);
}

/**
 * False only when a v2 frame's header kept apart from its frame (its bytes up to the first column,
 * as a storage node keeps a frame's token filter) shows that some needle is in none of its lines.
 */
export function detachedHeaderAllows(header: Uint8Array, needles: NeedleSet): boolean {
  return filterAllows(readDetachedFrameV2Header(header), needles);
}
