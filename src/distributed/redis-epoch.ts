import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';

/** Stores the epoch if there is none; returns the one stored. */
const EPOCH_SCRIPT = `redis.call('SET', KEYS[1], ARGV[1], 'NX')
return redis.call('GET', KEYS[1])`;

/**
 * The queue's epoch: a random value stored once per life of the queue's
 * data (the first process to ask after the data was lost stores a new
 * one). A Redis that lost its data lost this key too, so a process that
 * sees a different epoch (or none) knows that what it stored may be gone.
 */
export class RedisEpoch {
  readonly #redis: Redis;
  readonly #key: string;
  readonly #assertOpen: () => void;
  /** The epoch as this process last saw it (see mark). */
  #seen = '';

  constructor(redis: Redis, key: string, assertOpen: () => void) {
    this.#redis = redis;
    this.#key = key;
    this.#assertOpen = assertOpen;
  }

  /** Learns the queue's epoch, storing one if there is none. Also the first contact of the store's open(). */
  async mark(): Promise<void> {
    this.#seen = String(await this.#redis.eval(EPOCH_SCRIPT, 1, this.#key, randomBytes(8).toString('hex')));
  }

  /** Whether the queue's epoch is not the one mark() saw: its data may have been lost since (one O(1) call). */
  async changed(): Promise<boolean> {
    this.#assertOpen();
    return (await this.#redis.get(this.#key)) !== this.#seen;
  }
}
