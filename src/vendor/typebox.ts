/**
 * TypeBox, as the service imports it. TypeBox ships as some 370 ES modules, and loading them one by one was the
 * largest part of every start (0.3–0.8 s here); the build therefore bundles this one module with TypeBox inlined
 * (scripts/bundle.mjs), so that a start reads one file instead. Run from sources (tsx), it is a plain
 * re-export.
 */
export { default as Type } from 'typebox';
export type { Static, TSchema } from 'typebox';
