// arquero tables in tslab notebooks. arquero 8 is ESM; only its types are imported here, so loading the
// lib does not load arquero (notebooks `import * as aq from "arquero"`, which Node 20.19+ can require).
import type { ColumnTable } from "arquero";
import { displayBundle } from "./plot";
import { writeFileAtomic } from "./checkpoint";

/** Options of arquero's `toHTML` and `toMarkdown` (e.g. `limit`, `maxdigits`), as `showTable` takes them. */
export type TableHTMLOptions = NonNullable<Parameters<ColumnTable["toHTML"]>[0]>;

/**
 * Shows a table in the running tslab cell as HTML, with a Markdown text/plain alternative (at most
 * `limit` rows, default 50; at most 4 fractional digits). Outside tslab it prints the Markdown.
 */
export function showTable(table: ColumnTable, opts: TableHTMLOptions = {}): void {
  const options = { limit: 50, maxdigits: 4, ...opts };
  const text = table.toMarkdown(options);
  if (!displayBundle({ "text/html": table.toHTML(options), "text/plain": text })) console.log(text);
}

/** Writes a table as CSV, atomically (e.g. a results table under data/). */
export function saveCSV(table: ColumnTable, file: string): void {
  writeFileAtomic(file, table.toCSV());
}
