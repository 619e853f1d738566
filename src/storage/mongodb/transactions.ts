import { MongoServerError, type ClientSession, type Db } from 'mongodb';
import { COUNTERS } from './counters.js';
import { isUnreachableError } from './errors.js';

/** MongoDB's IllegalOperation: what a standalone mongod answers a transaction with. */
const ILLEGAL_OPERATION = 20;

/**
 * Whether a failed probe transaction says the deployment has no transactions: a standalone
 * mongod refuses a transaction number ("Transaction numbers are only allowed on a replica set
 * member or mongos", code 20). Replica sets, mongos and the jongodb test engine accept one.
 */
export function refusesTransactions(error: unknown): boolean {
  if (!(error instanceof MongoServerError)) return false;
  return error.code === ILLEGAL_OPERATION || /transaction numbers are only allowed/i.test(error.message);
}

export type ProbeResult = { supported: true } | { supported: false; reason: string };

/**
 * Runs a read-only transaction (one findOne, which writes nothing whatever happens) to learn
 * whether the deployment has transactions. Rejects when the database cannot be reached, so an
 * outage is not mistaken for a deployment without transactions; any other refusal counts as none.
 */
export async function probeTransactions(db: Db, startSession: () => ClientSession): Promise<ProbeResult> {
  const session = startSession();
  try {
    await session.withTransaction(async () => {
      await db.collection(COUNTERS).findOne({ _id: 'transaction-probe' as never }, { session });
    });
    return { supported: true };
  } catch (error) {
    if (isUnreachableError(error)) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    return { supported: false, reason: refusesTransactions(error) ? reason : `probe failed: ${reason}` };
  } finally {
    await session.endSession().catch(() => undefined);
  }
}
