import { MemoryStore } from '../../src/storage/memory.js';
import { storeContract } from './contract/index.js';

describe('storage contract: memory store', () => {
  storeContract({
    open: async () => new MemoryStore(),
    // The memory store lets every concurrent consume resolve (it only overwrites `consumed`).
    rejectsLosingConsume: true,
    exactUpdateResults: true,
  });
});
