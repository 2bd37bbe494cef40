// The OCI runtime's log (trusted): runc's --log FILE and --log-format text|json. containerd's shim
// reads the last error line back into its own error, so every failure writes exactly one line with
// level "error"; --debug adds what a bundle asked for that was not applied. Shared by the command
// line (cli.ts) and the container's process, which reports its own create failures (sandbox-main.ts).
import fs from 'node:fs';

export interface LogConfig {
  file?: string;
  format: 'text' | 'json';
  debug: boolean;
}

let config: LogConfig = { format: 'text', debug: false };

export function setLog(c: LogConfig): void {
  config = c;
}

export function logConfig(): LogConfig {
  return config;
}

export function logLine(level: 'error' | 'warning' | 'info' | 'debug', msg: string): void {
  if (!config.file) return;
  const time = new Date().toISOString();
  const line = config.format === 'json' ? JSON.stringify({ level, msg, time }) : `time="${time}" level=${level} msg=${JSON.stringify(msg)}`;
  try {
    fs.appendFileSync(config.file, line + '\n');
  } catch {}
}

export function debug(msg: string): void {
  if (config.debug) logLine('debug', msg);
}
