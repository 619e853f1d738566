import { connectMongoStore } from '../../src/storage/mongodb.js';
import { startMongoTarget, type MongoTarget } from '../helpers/mongo-engine.js';
import { storeContract } from './contract/index.js';

describe('storage contract: MongoDB store', () => {
  let target: MongoTarget | null = null;

  before(async () => {
    target = await startMongoTarget();
  });

  after(async () => {
    await target?.stop();
  });

  storeContract({
    open: async () => (target ? connectMongoStore(target.freshUri()) : null),
    rejectsLosingConsume: true,
    get exactUpdateResults() {
      return target?.engine === 'mongodb';
    },
  });
});
