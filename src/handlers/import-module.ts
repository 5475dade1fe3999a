import { pathToFileURL } from 'node:url';

type ScopedImport = (specifier: string, parent: string) => Promise<unknown>;
let typescriptImport: Promise<ScopedImport> | undefined;

/**
 * Node 20 cannot run TypeScript: `.ts` modules go through tsx (esbuild; types are stripped, not checked). Its
 * loader is registered once per thread, namespaced, so that it applies to these imports and what they import,
 * and the rest of the process loads as it always does. tsx is loaded only when a `.ts` module is.
 */
function typescriptImporter(): Promise<ScopedImport> {
  return (typescriptImport ??= import('tsx/esm/api').then(
    ({ register }) => register({ namespace: 'taskd-handlers' }).import,
  ));
}

/** Imports a handler module by its absolute path and returns its default export. Main thread and worker threads. */
export async function importHandlerModule(file: string): Promise<unknown> {
  const url = pathToFileURL(file).href;
  const namespace = (
    file.endsWith('.ts') ? await (await typescriptImporter())(url, import.meta.url) : await import(url)
  ) as { default?: unknown };
  return namespace.default;
}
