#pragma once
// glibc's malloc returns freed memory to the kernel eagerly (trim and mmap thresholds of a few
// hundred KB to 32 MB), and LibTorch frees and reallocates every step's activations: on CPU a
// tiny model's step then spends much of its time in page faults. Keeping freed memory in the
// process (64 MB top pad, 256 MB trim threshold, 32 MB mmap threshold) made tiny-model CPU
// steps 1.2x (VideoMAE recipe) to 1.8x (MME recipe) faster (docs/benchmarks.md). Call once at start-up; harmless on
// CUDA runs.
namespace trainer {

void tune_host_allocator();

}  // namespace trainer
