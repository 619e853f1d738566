import {
  MongoClientClosedError,
  MongoNetworkError,
  MongoNotConnectedError,
  MongoOperationTimeoutError,
  MongoServerClosedError,
  MongoServerError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
} from 'mongodb';
import { DuplicateKeyError, StoreUnavailableError } from '../types.js';

/** Which {@link DuplicateKeyError} field a unique key path of one collection stands for. */
export type DuplicateFields = Readonly<Record<string, string>>;

const DUPLICATE_KEY = 11000;

/**
 * Server errors that mean "no usable primary right now" (shutdown, step-down, failover):
 * the request cannot succeed until the deployment recovers, which is a 503, not a fault.
 */
const UNAVAILABLE_SERVER_CODES = new Set([91, 189, 10107, 11600, 11602, 13435, 13436]);

const UNREACHABLE_ERRORS = [
  MongoServerSelectionError,
  MongoNetworkError,
  MongoNotConnectedError,
  MongoTopologyClosedError,
  MongoClientClosedError,
  MongoServerClosedError,
  MongoOperationTimeoutError,
];

/**
 * Socket failures the driver sometimes passes on unwrapped: driver 7 lets a write to a
 * connection the server already closed reject with Node's bare EPIPE error.
 */
const SOCKET_ERROR_CODES = new Set(['EPIPE', 'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

function isSocketError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return error instanceof Error && typeof code === 'string' && SOCKET_ERROR_CODES.has(code);
}

/** Whether a driver error means the database cannot be reached (as opposed to a bad request). */
export function isUnreachableError(error: unknown): boolean {
  if (UNREACHABLE_ERRORS.some((type) => error instanceof type) || isSocketError(error)) return true;
  return error instanceof MongoServerError && UNAVAILABLE_SERVER_CODES.has(Number(error.code));
}

/**
 * The key path a duplicate key error is about. MongoDB reports it in `keyPattern`; engines
 * that leave `keyPattern` out still name it in the message (`dup key: { path: value }`).
 */
function duplicatedKeyPath(error: MongoServerError): string | undefined {
  const fromPattern = error.keyPattern ? Object.keys(error.keyPattern)[0] : undefined;
  return fromPattern ?? /dup key: \{ *"?([^":\s]+)"?\s*:/.exec(error.message)?.[1];
}

/** Turns driver errors into the store's own errors; anything else is rethrown unchanged. */
export function translateDriverError(error: unknown, duplicates: DuplicateFields = {}): never {
  if (error instanceof MongoServerError && error.code === DUPLICATE_KEY) {
    const path = duplicatedKeyPath(error);
    throw new DuplicateKeyError((path !== undefined ? duplicates[path] : undefined) ?? path ?? 'key');
  }
  if (isUnreachableError(error)) {
    throw new StoreUnavailableError(`database unavailable: ${(error as Error).message}`, { cause: error });
  }
  throw error;
}

/** Runs one database operation with driver errors translated by {@link translateDriverError}. */
export async function guarded<T>(operation: () => Promise<T>, duplicates?: DuplicateFields): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    translateDriverError(error, duplicates);
  }
}
