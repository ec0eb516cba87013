/**
 * Opens the store the configuration names: the SQLite file under dataDir (the default) or an
 * etcd cluster, whose TLS material and password are read here so a missing file stops the
 * coordinator at start with one line naming it.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { CoordinatorConfig } from '../config-schema.js';
import { SqliteStore } from './sqlite-store.js';
import { StoreOpenError, type CoordinatorStore } from './store.js';

/** What the start-up log says about the store: the file, or the etcd endpoints and prefix. */
export function describeStore(config: CoordinatorConfig): string {
  const store = config.store;
  if (store.engine === 'sqlite')
    return isAbsolute(store.file) ? store.file : join(config.dataDir, store.file);
  return `etcd ${store.endpoints.join(',')} ${store.prefix}`;
}

function readConfigured(path: string, field: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new StoreOpenError(
      `store.${field}: expected a readable file, received ${path} (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
      error,
    );
  }
}

/** The etcd client (and gRPC) is loaded only when the configuration asks for etcd. */
export async function openStore(config: CoordinatorConfig): Promise<CoordinatorStore> {
  const store = config.store;
  if (store.engine === 'sqlite') return new SqliteStore(describeStore(config));
  const { EtcdStore } = await import('./etcd-store.js');
  return new EtcdStore({
    endpoints: store.endpoints,
    prefix: store.prefix,
    timeoutMs: store.timeout,
    ...(store.tls
      ? {
          tls: {
            ca: readConfigured(store.tls.caFile, 'tls.caFile'),
            ...(store.tls.certFile && store.tls.keyFile
              ? {
                  cert: readConfigured(store.tls.certFile, 'tls.certFile'),
                  key: readConfigured(store.tls.keyFile, 'tls.keyFile'),
                }
              : {}),
          },
        }
      : {}),
    ...(store.auth
      ? {
          auth: {
            username: store.auth.username,
            password: readConfigured(store.auth.passwordFile, 'auth.passwordFile').toString('utf8').trim(),
          },
        }
      : {}),
  });
}
