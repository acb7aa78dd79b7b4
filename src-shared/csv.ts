/**
 * CSV for people's spreadsheets. Policy (OWASP, CSV injection): a text cell that starts with `=`, `+`,
 * `-`, `@`, a tab or a carriage return is written with a leading apostrophe, so a spreadsheet shows it
 * as text instead of running it as a formula. Numbers stay numbers (a negative score is still -0.5);
 * booleans are `true` / `false`; null and undefined are empty cells. Every CSV the workstation writes
 * goes through here.
 */
import { stringify } from 'csv-stringify/sync';

const FORMULA_START = /^[=+\-@\t\r]/;

export function neutraliseCell(text: string): string {
  return FORMULA_START.test(text) ? `'${text}` : text;
}

export function toCsv(
  rows: readonly Record<string, unknown>[],
  columns: readonly string[] = rows.length ? Object.keys(rows[0]!) : [],
): string {
  return stringify(rows as Record<string, unknown>[], {
    header: true,
    columns: [...columns],
    cast: { string: neutraliseCell, boolean: (value) => (value ? 'true' : 'false') },
  });
}
