import type { Config } from '../config/schema.js';
import { MemoryStore } from './memory.js';
import { connectMongoStore } from './mongodb.js';
import type { Store } from './types.js';

export type { Store } from './types.js';

/**
 * The store the configuration asks for: MongoDB when a URI is set (indexes created, or a
 * clear error within about five seconds when it is unreachable), else the embedded memory store.
 */
export async function openStore(config: Config): Promise<Store> {
  if (config.storage.mongodbUri) return connectMongoStore(config.storage.mongodbUri);
  return new MemoryStore();
}
