/** CSV reading for manifests, through csv-parse (RFC 4180: quotes, doubled quotes, CRLF, BOM). */
import { parse } from 'csv-parse/sync';

/** Parses CSV text into rows of fields; blank lines are skipped, rows may differ in length. */
export function parseCsv(text: string): string[][] {
  return parse(text, {
    bom: true,
    skip_empty_lines: true,
    relax_column_count: true,
    // Mixed line ends (a manifest edited on two systems); csv-parse would take the first only.
    record_delimiter: ['\r\n', '\n', '\r'],
  });
}

/** Parses CSV with a header row into objects keyed by the (trimmed) header names. */
export function parseCsvRecords(text: string): Array<Record<string, string>> {
  const [header, ...rows] = parseCsv(text);
  if (!header) return [];
  const names = header.map((h) => h.trim());
  return rows.map((fields) => {
    const record: Record<string, string> = {};
    names.forEach((name, i) => {
      record[name] = fields[i] ?? '';
    });
    return record;
  });
}
