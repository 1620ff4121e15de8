#pragma once
// Hot loops built twice and chosen at run time: for baseline x86-64 (SSE2, what Debian's compiler
// targets, so the binaries run on every x86-64 machine) and for x86-64-v3 (AVX2, BMI2, FMA: every
// x86 server CPU since about 2015), as OpenCV does for its own kernels. trajgen's own work
// (tracking, the Rice coder, motion boundaries, cell magnitudes, quantisation) runs ~1.5x faster in
// its x86-64-v3 build; the flow's range coder does not gain and stays single (docs/benchmarks.md).
//
// Both builds give bit-identical results: the project compiles with -ffp-contract=off, so the
// x86-64-v3 build does not fuse a multiply and an add into an FMA (which rounds once instead of
// twice), and the compiler reorders no floating-point sums. The tests run both and compare.
//
// A kernel is written once and built twice:
//   namespace { std::int64_t kernel(args) { ... } }          // the body, plain C++
//   MME_X86_64_V3 std::int64_t kernel_v3(args) { return kernel(args); }
//   ... if (mme::isa::active() == mme::isa::Level::x86_64_v3) return kernel_v3(args); ...
// where MME_X86_64_V3 builds the wrapper for x86-64-v3 with every call in it inlined (flatten),
// so that the body and what it calls are built for x86-64-v3 too.
//
// MME_ISA=baseline in the environment keeps every kernel on its baseline build (comparisons).

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define MME_HAVE_X86_64_V3 1
#define MME_X86_64_V3 __attribute__((target("arch=x86-64-v3"), flatten))
#else
#define MME_HAVE_X86_64_V3 0
#endif

namespace mme::isa {

enum class Level { baseline, x86_64_v3 };

// The best level this CPU runs (baseline where this build has no second build of its kernels).
Level supported();

// The level the kernels use: supported(), or baseline under MME_ISA=baseline or after use().
Level active();

// Makes the kernels use `level` from now on (tests and benchmarks compare the builds); throws
// std::invalid_argument when the CPU does not support it.
void use(Level level);

const char* name(Level level);  // "baseline", "x86-64-v3"

}  // namespace mme::isa
