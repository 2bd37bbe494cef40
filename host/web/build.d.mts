// Types of build.mjs (for the TypeScript tests that import it).
export const ROOT: string;
export const WEB_DIST: string;
export interface WebSizes {
  files: { file: string; bytes: number; gzip: number }[];
  total: { bytes: number; gzip: number };
}
export function buildWeb(opts?: { minify?: boolean }): Promise<WebSizes>;
export function sizes(): WebSizes;
