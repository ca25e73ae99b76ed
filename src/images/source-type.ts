/**
 * What a source is, decided from its first bytes before anything is decoded, and which
 * libvips loaders may run at all.
 *
 * Two layers: `sniffSource` refuses anything that is not an allowed image by its magic
 * bytes (file-type; SVG by its XML prologue, which file-type does not detect), and
 * `applyLoaderPolicy` blocks the risky libvips loaders process-wide (sharp.block), so a
 * polyglot file that libvips would read differently than file-type still cannot reach them.
 */
import { fileTypeFromBuffer } from 'file-type';
import sharp from 'sharp';
import type { RiskyLoader } from '../config/sections/images.js';
import { ImageUnsupported } from '../errors.js';

/** Bytes read to decide the type; file-type needs at most 4100. */
export const SNIFF_BYTES = 4100;

const SAFE_MIME: Record<string, string> = {
  'image/jpeg': 'jpeg',
  'image/png': 'png',
  'image/apng': 'png',
  'image/gif': 'gif',
  'image/webp': 'webp',
  'image/avif': 'avif',
};
const RISKY_MIME: Record<string, RiskyLoader> = { 'image/tiff': 'tiff' };

/** libvips loaders never needed for web images; PDF/raw/magick are absent from prebuilt sharp. */
const ALWAYS_BLOCKED = [
  'VipsForeignLoadPdf',
  'VipsForeignLoadMagick',
  'VipsForeignLoadOpenslide',
  'VipsForeignLoadFits',
  'VipsForeignLoadMat',
  'VipsForeignLoadCsv',
  'VipsForeignLoadMatrix',
  'VipsForeignLoadVips',
  'VipsForeignLoadPpm',
  'VipsForeignLoadRad',
  'VipsForeignLoadAnalyze',
  'VipsForeignLoadRaw',
  'VipsForeignLoadJp2k',
  'VipsForeignLoadJxl',
  'VipsForeignLoadDcRaw',
];
const RISKY_OPERATIONS: Record<RiskyLoader, string> = {
  svg: 'VipsForeignLoadSvg',
  tiff: 'VipsForeignLoadTiff',
};

/** Blocks every risky loader not in `allowed`; process-wide, re-applied on config reload. */
export function applyLoaderPolicy(allowed: readonly RiskyLoader[]): void {
  sharp.block({ operation: ALWAYS_BLOCKED });
  for (const [loader, op] of Object.entries(RISKY_OPERATIONS) as Array<[RiskyLoader, string]>) {
    if (allowed.includes(loader)) sharp.unblock({ operation: [op] });
    else sharp.block({ operation: [op] });
  }
}

function looksLikeSvg(head: Buffer): boolean {
  const text = head
    .toString('utf8')
    .replace(/^\uFEFF/, '')
    .trimStart();
  return (
    (text.startsWith('<?xml') || text.startsWith('<svg') || text.startsWith('<!--')) && text.includes('<svg')
  );
}

/** The source's format from its first bytes; throws EDGEWISE_IMAGE_UNSUPPORTED otherwise. */
export async function sniffSource(head: Buffer, allowed: readonly RiskyLoader[]): Promise<string> {
  const type = await fileTypeFromBuffer(head);
  if (type) {
    const safe = SAFE_MIME[type.mime];
    if (safe) return safe;
    const risky = RISKY_MIME[type.mime];
    if (risky) {
      if (allowed.includes(risky)) return risky;
      throw new ImageUnsupported(`${type.mime} sources need images.allowRiskyLoaders to include "${risky}"`);
    }
    throw new ImageUnsupported(type.mime);
  }
  if (looksLikeSvg(head)) {
    if (allowed.includes('svg')) return 'svg';
    throw new ImageUnsupported('image/svg+xml sources need images.allowRiskyLoaders to include "svg"');
  }
  throw new ImageUnsupported('unrecognised file signature');
}
