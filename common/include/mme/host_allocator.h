#pragma once
// glibc's malloc hands freed memory back to the kernel eagerly: blocks above the mmap threshold
// (128 KB at first) get a fresh mmap each time, and the heap top is trimmed above 128 KB. Our tools
// free and reallocate the same large buffers over and over (flowgen: a few ~350 KB buffers per
// flow pair, 11% of its time in page faults in a profile; the trainer: every step's activations,
// which made tiny-model CPU steps 1.2x-1.8x slower, docs/benchmarks.md), so the pages fault in
// again and again. keep_freed_memory() keeps them in the process: blocks up to 32 MB come from the
// heap, 64 MB of slack on top, trimming only above 256 MB. Call once at start-up.
namespace mme {

void keep_freed_memory();

}  // namespace mme
