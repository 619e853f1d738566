import type { Config } from '../config/schema.js';
import { MemoryStore } from './memory.js';
import type { Store } from './types.js';

export type { Store } from './types.js';

/** The store the configuration asks for: MongoDB when a URI is set, else the embedded memory store. */
export async function openStore(config: Config): Promise<Store> {
  if (config.storage.mongodbUri) {
    throw new Error('MONGODB_URI is set, but MongoDB storage is not available in this version yet; unset it to use the memory store');
  }
  return new MemoryStore();
}
