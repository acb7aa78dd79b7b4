/** What a migration is. Migrations import this, never the index that lists them (no import circle). */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}
