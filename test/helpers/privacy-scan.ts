import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { XrayRecord } from '../../shared/data/index.ts';

const IMAGE_SIGNATURES = [Buffer.from([0xff, 0xd8, 0xff]), Buffer.from('\x89PNG', 'latin1')];

/**
 * File names, and patient ids distinctive enough to search for: a short number such as
 * "0728" turns up by chance in any hash, so those are covered by their file names only.
 */
function identifiers(records: readonly XrayRecord[]): string[] {
  const ids = records.flatMap((r) => [
    path.basename(r.path),
    ...(r.patientId.length >= 6 && /[a-z]/i.test(r.patientId) ? [r.patientId] : []),
  ]);
  return [...new Set(ids)];
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

/**
 * What of the hospitals' raw data a directory holds: files that are images (by signature), and
 * files whose bytes contain an image file name or a patient id of `records`. Empty = nothing.
 */
export async function findRawData(dir: string, records: readonly XrayRecord[]): Promise<string[]> {
  const needles = identifiers(records).map((s) => Buffer.from(s, 'utf8'));
  const found: string[] = [];
  for (const file of await filesUnder(dir)) {
    const bytes = await readFile(file);
    if (IMAGE_SIGNATURES.some((sig) => bytes.subarray(0, sig.length).equals(sig))) {
      found.push(`${file}: an image`);
    }
    for (const needle of needles) {
      if (bytes.includes(needle)) found.push(`${file}: contains "${needle.toString('utf8')}"`);
    }
  }
  return found;
}

/** The same check on text (database rows serialised as JSON). */
export function findRawDataInText(text: string, records: readonly XrayRecord[]): string[] {
  return identifiers(records).filter((needle) => text.includes(needle));
}
