/**
 * Patient ids from the file names of the Kermany chest X-ray dataset (rules of its README):
 *   personN_bacteria_M[_K] / personN_virus_M[_K] -> personN
 *   IM-XXXX-YYYY[-ZZZZ]                          -> XXXX
 *   NORMAL2-IM-XXXX-YYYY[-ZZZZ]                  -> NORMAL2-XXXX
 * Any other name falls back to its stem (one image = one patient).
 *
 * personN numbering is shared by bacteria and virus files and may merge two children; we keep
 * the merged group on purpose: a bigger group can never leak one child across a split.
 */
import path from 'node:path';

const PERSON = /^(person\d+)_(?:bacteria|virus)(?:_\d+)+$/i;
const NORMAL2 = /^(NORMAL\d+)-IM-(\d+)(?:-\d+)+$/i;
const IM = /^IM-(\d+)(?:-\d+)+$/i;

/** File name or path (any extension) -> patient id. */
export function patientIdFromFileName(fileName: string): string {
  const base = path.basename(fileName);
  const ext = path.extname(base);
  const stem = ext.length > 0 ? base.slice(0, -ext.length) : base;
  const person = PERSON.exec(stem);
  if (person) return person[1].toLowerCase();
  const normal2 = NORMAL2.exec(stem);
  if (normal2) return `${normal2[1].toUpperCase()}-${normal2[2]}`;
  const im = IM.exec(stem);
  if (im) return im[1];
  return stem;
}
