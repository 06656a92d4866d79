// A replica of kernel/bpf/range_tree.c: the set of free page offsets of an arena, as disjoint ranges.
// Allocation order must match the kernel's, so this keeps the kernel's two orderings:
// - the interval tree (by start) for clear/set/containment;
// - the size tree: descending size, and among equal sizes in insertion order (an equal-sized node is linked
//   to the right of its peers). __find_range() returns the LAST node of that order whose size fits, i.e. the
//   smallest fitting size and, among those, the most recently (re)inserted range. Every range_it_insert()
//   (also when a range is shrunk or grown in place) makes a range the newest of its size.
// All numbers are u32 like the kernel's (start + len - 1 may wrap).

interface RangeNode {
  start: number;
  last: number; // inclusive
}

const u32 = (v: number): number => v >>> 0;

/** First index of an ascending array whose value is >= v. */
function lowerBound(a: readonly number[], v: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid]! >= v) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
const sizeOf = (n: RangeNode): number => u32(n.last - n.start + 1);

export class RangeTree {
  /** Nodes sorted by start (the interval tree's order); they never overlap, so also sorted by last. */
  private nodes: RangeNode[] = [];
  /** The size tree: size → nodes of that size, oldest insertion first; and the distinct sizes, ascending. */
  private readonly bySize = new Map<number, RangeNode[]>();
  private readonly sizes: number[] = [];

  /** Free ranges in start order, as [start, last] pairs (for inspection and tests). */
  ranges(): Array<[number, number]> {
    return this.nodes.map((n) => [n.start, n.last]);
  }

  /** Index of the first node whose last >= v (nodes.length if none). */
  private firstEndingAtOrAfter(v: number): number {
    let lo = 0;
    let hi = this.nodes.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.nodes[mid]!.last >= v) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** range_it_iter_first(): the lowest-start node overlapping [start, last]. */
  private iterFirst(start: number, last: number): RangeNode | undefined {
    const n = this.nodes[this.firstEndingAtOrAfter(start)];
    return n && n.start <= last ? n : undefined;
  }

  private insert(n: RangeNode): void {
    this.nodes.splice(this.firstEndingAtOrAfter(n.start), 0, n);
    const size = sizeOf(n);
    const bucket = this.bySize.get(size);
    if (bucket) bucket.push(n);
    else {
      this.bySize.set(size, [n]);
      this.sizes.splice(lowerBound(this.sizes, size), 0, size);
    }
  }

  private remove(n: RangeNode): void {
    this.nodes.splice(this.firstEndingAtOrAfter(n.last), 1);
    const size = sizeOf(n);
    const bucket = this.bySize.get(size)!;
    bucket.splice(bucket.lastIndexOf(n), 1);
    if (bucket.length === 0) {
      this.bySize.delete(size);
      this.sizes.splice(lowerBound(this.sizes, size), 1);
    }
  }

  /** range_tree_find(): best-fit start (smallest fitting size, newest of that size), or -1 (-ENOENT). */
  find(len: number): number {
    const i = lowerBound(this.sizes, u32(len));
    if (i === this.sizes.length) return -1;
    const bucket = this.bySize.get(this.sizes[i]!)!;
    return bucket[bucket.length - 1]!.start;
  }

  /** range_tree_clear(): mark [start, start + len) as not free. */
  clear(start: number, len: number): void {
    start = u32(start);
    const last = u32(start + len - 1);
    for (let n = this.iterFirst(start, last); n; n = this.iterFirst(start, last)) {
      if (n.start < start && n.last > last) {
        // Overlaps the whole clearing range: keep the left part, add the right part.
        const oldLast = n.last;
        this.remove(n);
        n.last = u32(start - 1);
        this.insert(n);
        this.insert({ start: u32(last + 1), last: oldLast });
      } else if (n.start < start) {
        this.remove(n);
        n.last = u32(start - 1);
        this.insert(n);
      } else if (n.last > last) {
        this.remove(n);
        n.start = u32(last + 1);
        this.insert(n);
        break;
      } else {
        this.remove(n);
      }
    }
  }

  /** is_range_tree_set(): is all of [start, start + len) free? */
  isSet(start: number, len: number): boolean {
    start = u32(start);
    const last = u32(start + len - 1);
    const n = this.iterFirst(start, last);
    return n !== undefined && n.start <= start && n.last >= last;
  }

  /** range_tree_set(): mark [start, start + len) as free, merging with adjacent ranges. */
  set(start: number, len: number): void {
    start = u32(start);
    const last = u32(start + len - 1);
    if (this.isSet(start, len)) return;
    this.clear(start, len);
    const left = this.iterFirst(u32(start - 1), u32(start - 1));
    const right = this.iterFirst(u32(last + 1), u32(last + 1));
    // The kernel returns -EFAULT for a neighbour that overlaps instead of touching; clear() makes that impossible.
    if (left && right) {
      this.remove(left);
      this.remove(right);
      left.last = right.last;
      this.insert(left);
    } else if (left) {
      this.remove(left);
      left.last = last;
      this.insert(left);
    } else if (right) {
      this.remove(right);
      right.start = start;
      this.insert(right);
    } else {
      this.insert({ start, last });
    }
  }
}
