// Types of serve.mjs (for the TypeScript tests that import it).
import type { Server } from 'node:http';
export function startServer(opts?: { port?: number; host?: string; image?: string; log?: (line: string) => void }): Promise<{ url: string; server: Server; close(): Promise<void> }>;
