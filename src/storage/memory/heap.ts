/**
 * A binary min-heap: `push` and `pop` in O(log n), `peek` in O(1). `before(a, b)` says whether
 * `a` comes out first.
 */
export class MinHeap<T> {
  readonly #items: T[] = [];

  constructor(private readonly before: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.#items.length;
  }

  peek(): T | undefined {
    return this.#items[0];
  }

  push(item: T): void {
    const items = this.#items;
    items.push(item);
    this.#siftUp(items.length - 1);
  }

  pop(): T | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (items.length === 0 || last === undefined) return top;
    items[0] = last;
    this.#siftDown(0);
    return top;
  }

  /** Drops every item `wanted` refuses, in O(n): for items gone stale in bulk. */
  keep(wanted: (item: T) => boolean): void {
    const items = this.#items;
    let kept = 0;
    for (const item of items) if (wanted(item)) items[kept++] = item;
    items.length = kept;
    for (let at = (kept >>> 1) - 1; at >= 0; at -= 1) this.#siftDown(at);
  }

  #siftUp(from: number): void {
    const items = this.#items;
    const item = items[from]!;
    let at = from;
    while (at > 0) {
      const parent = (at - 1) >>> 1;
      if (!this.before(item, items[parent]!)) break;
      items[at] = items[parent]!;
      at = parent;
    }
    items[at] = item;
  }

  #siftDown(from: number): void {
    const items = this.#items;
    const item = items[from]!;
    let at = from;
    for (;;) {
      const left = 2 * at + 1;
      if (left >= items.length) break;
      const right = left + 1;
      const child = right < items.length && this.before(items[right]!, items[left]!) ? right : left;
      if (!this.before(items[child]!, item)) break;
      items[at] = items[child]!;
      at = child;
    }
    items[at] = item;
  }
}
