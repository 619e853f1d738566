import { MongoClient, type Db, type IndexDescription } from 'mongodb';
import type { Adapter } from 'oidc-provider';
import { StoreUnavailableError, type Store } from './types.js';
import { API_KEYS, MongoApiKeys, apiKeyIndexes } from './mongodb/api-keys.js';
import { CODES, MongoCodes, codeIndexes } from './mongodb/codes.js';
import { COUNTERS, MongoCounters, counterIndexes } from './mongodb/counters.js';
import { guarded, isUnreachableError, translateDriverError } from './mongodb/errors.js';
import { SessionScope } from './mongodb/session.js';
import { probeTransactions } from './mongodb/transactions.js';
import { log } from '../log.js';
import {
  MongoOidcAdapter,
  OIDC_MODELS,
  oidcCollectionName,
  oidcIndexes,
} from './mongodb/oidc.js';
import { parseMongoUri, redactCredentials } from './mongodb/uri.js';
import { MongoUsers, USERS, userIndexes } from './mongodb/users.js';
import { MongoRefreshTokens, REFRESH_TOKENS, refreshTokenIndexes } from './mongodb/refresh-tokens.js';
import { MongoWebhookDeliveries, WEBHOOK_DELIVERIES, webhookDeliveryIndexes } from './mongodb/webhooks.js';
import {
  MongoTwoFactor,
  MongoTwoFactorLogins,
  MongoTwoFactorTrusts,
  TWO_FACTOR,
  TWO_FACTOR_LOGINS,
  TWO_FACTOR_TRUSTS,
  twoFactorIndexes,
  twoFactorLoginIndexes,
  twoFactorTrustIndexes,
} from './mongodb/two-factor.js';

export { DEFAULT_DATABASE, parseMongoUri } from './mongodb/uri.js';

/** Options for {@link connectMongoStore}. */
export interface MongoStoreOptions {
  /**
   * How long an operation waits for a usable server before it fails with
   * {@link StoreUnavailableError}, and how long opening the store may take. Default 5000 ms.
   */
  serverSelectionTimeoutMS?: number;
  /**
   * `false` runs {@link MongoStore.atomically}'s work without a transaction even where the
   * deployment has them (as on a standalone mongod). Default: transactions when the deployment
   * accepts one (probed once).
   */
  transactions?: boolean;
}

const DEFAULT_SERVER_SELECTION_TIMEOUT_MS = 5000;

/**
 * The MongoDB store: users, codes, counters and API keys in one collection each, and one
 * collection per node-oidc-provider model. It keeps no state of its own, so any number of
 * instances can share one database.
 */
export class MongoStore implements Store {
  readonly kind = 'mongodb' as const;
  readonly users: MongoUsers;
  readonly codes: MongoCodes;
  readonly counters: MongoCounters;
  readonly apiKeys: MongoApiKeys;
  readonly refreshTokens: MongoRefreshTokens;
  readonly twoFactor: MongoTwoFactor;
  readonly twoFactorLogins: MongoTwoFactorLogins;
  readonly twoFactorTrusts: MongoTwoFactorTrusts;
  readonly webhookDeliveries: MongoWebhookDeliveries;
  readonly #client: MongoClient;
  readonly #db: Db;
  readonly #adapters = new Map<string, MongoOidcAdapter>();
  /** The transaction `atomically` runs in this async context, which the repositories join. */
  readonly #scope = new SessionScope();
  /** Whether `atomically` uses transactions: learnt once (by a probe, unless they are turned off). */
  #transactions: Promise<boolean> | null = null;
  readonly #transactionsOff: boolean;

  constructor(client: MongoClient, databaseName: string, options: Pick<MongoStoreOptions, 'transactions'> = {}) {
    this.#client = client;
    this.#db = client.db(databaseName);
    this.#transactionsOff = options.transactions === false;
    this.users = new MongoUsers(this.#db, this.#scope);
    this.codes = new MongoCodes(this.#db, this.#scope);
    this.counters = new MongoCounters(this.#db);
    this.apiKeys = new MongoApiKeys(this.#db, this.#scope);
    this.refreshTokens = new MongoRefreshTokens(this.#db, this.#scope);
    this.twoFactor = new MongoTwoFactor(this.#db, this.#scope);
    this.twoFactorLogins = new MongoTwoFactorLogins(this.#db, this.#scope);
    this.twoFactorTrusts = new MongoTwoFactorTrusts(this.#db, this.#scope);
    this.webhookDeliveries = new MongoWebhookDeliveries(this.#db, this.#scope);
  }

  /** The database this store works in. */
  get databaseName(): string {
    return this.#db.databaseName;
  }

  oidcAdapter(model: string): Adapter {
    let adapter = this.#adapters.get(model);
    if (!adapter) {
      adapter = new MongoOidcAdapter(model, this.#db);
      this.#adapters.set(model, adapter);
    }
    return adapter;
  }

  /**
   * Runs `work` in one MongoDB transaction when the deployment has transactions (a replica set,
   * mongos; the jongodb test engine too): every repository call made while `work` runs joins it
   * (counters excepted, see MongoCounters), and a throw rolls all of it back. The driver may run
   * `work` again, in a fresh transaction, after a transient error (a write conflict, a failover),
   * so `work` must be safe to re-run. Without transactions (a standalone mongod, or
   * `transactions: false`) `work` runs plainly: its writes land one by one, and a failure part-way
   * leaves the earlier ones. A call inside another `atomically` joins the outer one.
   *
   * Test-engine gap: jongodb runs transactions and rolls them back, but does not detect write
   * conflicts between them (the later commit of one document wins, and a conditional write inside
   * a transaction does not exclude a concurrent one). MongoDB aborts the later writer with a
   * WriteConflict, which withTransaction retries; the code is written to that.
   */
  async atomically<T>(work: () => Promise<T>): Promise<T> {
    if (this.#scope.active || !(await this.#supportsTransactions())) return work();
    const session = this.#client.startSession();
    try {
      return await session.withTransaction(() => this.#scope.run(session, work));
    } catch (error) {
      return translateDriverError(error);
    } finally {
      await session.endSession().catch(() => undefined);
    }
  }

  /** Whether {@link atomically} runs its work in a transaction here (the deployment has them and they are not turned off). */
  usesTransactions(): Promise<boolean> {
    return this.#supportsTransactions();
  }

  /** Whether the deployment takes transactions, probed on first use (init does it at start-up) and then remembered. */
  #supportsTransactions(): Promise<boolean> {
    this.#transactions ??= this.#probeTransactions().catch((error: unknown) => {
      // An outage is no answer: the next call probes again.
      this.#transactions = null;
      throw error;
    });
    return this.#transactions;
  }

  async #probeTransactions(): Promise<boolean> {
    const probe = this.#transactionsOff
      ? { supported: false, reason: 'turned off (transactions: false)' }
      : await guarded(() => probeTransactions(this.#db, () => this.#client.startSession()));
    if (!probe.supported) {
      log.info('store.transactions_unavailable', {
        reason: probe.reason,
        consequence: 'a change and its webhook events are separate writes here (the change first), not one transaction',
      });
    }
    return probe.supported;
  }

  /** Creates every index (createIndexes is a no-op for an index that already exists as specified), and learns whether transactions are there. */
  async init(): Promise<void> {
    const plan: [string, IndexDescription[]][] = [
      [USERS, userIndexes],
      [CODES, codeIndexes],
      [COUNTERS, counterIndexes],
      [API_KEYS, apiKeyIndexes],
      [REFRESH_TOKENS, refreshTokenIndexes],
      [TWO_FACTOR, twoFactorIndexes],
      [TWO_FACTOR_LOGINS, twoFactorLoginIndexes],
      [TWO_FACTOR_TRUSTS, twoFactorTrustIndexes],
      [WEBHOOK_DELIVERIES, webhookDeliveryIndexes],
      ...OIDC_MODELS.map((model): [string, IndexDescription[]] => [oidcCollectionName(model), oidcIndexes(model)]),
    ];
    await guarded(() =>
      Promise.all(plan.map(([collection, indexes]) => this.#db.collection(collection).createIndexes(indexes))),
    );
    await this.#supportsTransactions();
  }

  async ping(): Promise<void> {
    try {
      await this.#db.command({ ping: 1 });
    } catch (error) {
      throw new StoreUnavailableError(`MongoDB does not answer: ${(error as Error).message}`, { cause: error });
    }
  }

  async close(): Promise<void> {
    await this.#client.close();
  }
}

/**
 * Connects to `uri`, creates the indexes, and returns the store. Rejects within about
 * `serverSelectionTimeoutMS` when the database cannot be reached, with a message that names
 * the host but never the credentials.
 */
export async function connectMongoStore(uri: string, options: MongoStoreOptions = {}): Promise<MongoStore> {
  const { hosts, database } = parseMongoUri(uri);
  const timeout = options.serverSelectionTimeoutMS ?? DEFAULT_SERVER_SELECTION_TIMEOUT_MS;
  const client = new MongoClient(uri, {
    serverSelectionTimeoutMS: timeout,
    connectTimeoutMS: timeout,
    // Optional fields left undefined must stay absent, not come back as null.
    ignoreUndefined: true,
  });
  try {
    await client.connect();
    const store = new MongoStore(client, database, options.transactions === undefined ? {} : { transactions: options.transactions });
    await store.init();
    return store;
  } catch (error) {
    await client.close().catch(() => undefined);
    const detail = redactCredentials(error instanceof Error ? error.message : String(error), uri);
    throw new Error(describeOpenFailure(hosts, database, error, detail), { cause: error });
  }
}

function describeOpenFailure(hosts: string, database: string, error: unknown, detail: string): string {
  const unreachable = isUnreachableError(error) || error instanceof StoreUnavailableError;
  const reason = unreachable ? `cannot reach it (${detail})` : detail;
  return `MongoDB storage at ${hosts} (database ${database}) is not usable: ${reason}. Check MONGODB_URI and that the server is running.`;
}
