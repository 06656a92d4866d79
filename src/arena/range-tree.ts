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
  seq: number; // insertion stamp in the size tree
}

const u32 = (v: number): number => v >>> 0;
const sizeOf = (n: RangeNode): number => u32(n.last - n.start + 1);

export class RangeTree {
  /** Nodes sorted by start (the interval tree's order). */
  private nodes: RangeNode[] = [];
  private stamp = 0;

  /** Free ranges in start order, as [start, last] pairs (for inspection and tests). */
  ranges(): Array<[number, number]> {
    return this.nodes.map((n) => [n.start, n.last]);
  }

  /** range_it_iter_first(): the lowest-start node overlapping [start, last]. */
  private iterFirst(start: number, last: number): RangeNode | undefined {
    return this.nodes.find((n) => n.start <= last && n.last >= start);
  }

  private insert(n: RangeNode): void {
    n.seq = ++this.stamp;
    let i = 0;
    while (i < this.nodes.length && this.nodes[i]!.start < n.start) i++;
    this.nodes.splice(i, 0, n);
  }

  private remove(n: RangeNode): void {
    this.nodes.splice(this.nodes.indexOf(n), 1);
  }

  /** range_tree_find(): best-fit start, or -1 (the kernel's -ENOENT). */
  find(len: number): number {
    len = u32(len);
    let best: RangeNode | undefined;
    for (const n of this.nodes) {
      const s = sizeOf(n);
      if (len > s) continue;
      if (!best || s < sizeOf(best) || (s === sizeOf(best) && n.seq > best.seq)) best = n;
    }
    return best ? best.start : -1;
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
        this.insert({ start: u32(last + 1), last: oldLast, seq: 0 });
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
      this.insert({ start, last, seq: 0 });
    }
  }
}
