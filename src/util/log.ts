/**
 * Structured logs with pino, always to stderr: in the agent, stdout belongs to ExaBGP.
 * Synchronous writes so the last lines before an exit are not lost.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(name: string, level: string = process.env.HERALD_LOG_LEVEL ?? 'info'): Logger {
  return pino(
    {
      name,
      level,
      // Tokens and authorization headers never reach a log line.
      redact: {
        paths: ['token', '*.token', 'authorization', '*.authorization', 'headers.authorization'],
        censor: '[redacted]',
      },
    },
    pino.destination({ fd: 2, sync: true }),
  );
}
