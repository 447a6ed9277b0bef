function next<R>(queue: Promise<R>[]): Promise<R> {
  const head = queue.shift();
  return head ?? Promise.reject(new Error('orderedMap: the queue is empty'));
}

/**
 * Maps `source` through async `work` with up to `parallelism` items in
 * flight, yielding results in source order. Memory stays bounded by
 * `parallelism` items, and a failure surfaces in order, at its own position.
 */
export async function* orderedMap<T, R>(source: AsyncIterable<T>, work: (item: T) => Promise<R>, parallelism: number): AsyncGenerator<R, void, undefined> {
  const inFlight: Promise<R>[] = [];
  try {
    for await (const item of source) {
      const result = work(item);
      // Observed here so that a failure behind an earlier one is not reported as unhandled.
      result.catch(() => undefined);
      inFlight.push(result);
      if (inFlight.length >= parallelism) yield await next(inFlight);
    }
    while (inFlight.length > 0) yield await next(inFlight);
  } finally {
    inFlight.length = 0;
  }
}
