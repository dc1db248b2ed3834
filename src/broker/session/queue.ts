/** A FIFO with O(1) push/shift (array + head index, compacted lazily). */
export class Deque<T> {
  private items: T[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }
  push(v: T): void {
    this.items.push(v);
  }
  unshift(v: T): void {
    if (this.head > 0) this.items[--this.head] = v;
    else this.items.unshift(v);
  }
  peek(): T | undefined {
    return this.head < this.items.length ? this.items[this.head] : undefined;
  }
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const v = this.items[this.head];
    this.items[this.head++] = undefined as unknown as T;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return v;
  }
  /** Remove and return every element matching `pred`. */
  extract(pred: (v: T) => boolean): T[] {
    const keep: T[] = [];
    const out: T[] = [];
    for (let i = this.head; i < this.items.length; i++) {
      const v = this.items[i]!;
      (pred(v) ? out : keep).push(v);
    }
    this.items = keep;
    this.head = 0;
    return out;
  }
  toArray(): T[] {
    return this.items.slice(this.head);
  }
  clear(): void {
    this.items = [];
    this.head = 0;
  }
}
