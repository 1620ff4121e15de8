#pragma once
// Which tokens the encoder does not see. One strategy per file (tube_mask.cpp, random_mask.cpp,
// ...), chosen by name (`mask.type`) through make_mask_generator; adding one touches its file and a
// line in mask_generator.cpp. Masks are made by the loader's threads with the clip's own random
// stream, so they are reproducible and cost the training loop nothing.
#include <trainer/config.h>
#include <trainer/rng.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace trainer {

// What a strategy may look at: the token grid and, when it asks (needs_motion()), what trajgen's
// targets say about the clip's motion, carried through the clip's crop and flip.
struct MaskContext {
  int slices = 0, rows = 0, cols = 0;  // token grid: tokens are (slice, row, col), row-major
  // The video's MOFO motion box (trajgen's motion_box_union) in token units: x0, y0, x1, y1 with
  // x in [0, cols], y in [0, rows].
  std::array<float, 4> box{0, 0, 0, 0};
  // Motion magnitude per token [slices, rows, cols] (trajgen's `motion`, MGM's map), input pixels
  // per native frame, averaged over each tube's frames.
  std::vector<float> motion;
  int tokens() const { return slices * rows * cols; }
};

class MaskGenerator {
 public:
  virtual ~MaskGenerator() = default;
  virtual std::string name() const = 0;
  // Masked tokens per clip: the same for every clip, so a batch's visible tokens stack.
  virtual int masked_count(const MaskContext& grid) const = 0;
  // Writes 1 (masked) or 0 (visible) for each token; exactly masked_count() ones.
  virtual void generate(const MaskContext& context, Rng& rng, std::uint8_t* mask) const = 0;
  virtual bool needs_motion() const { return false; }
};

// Throws std::invalid_argument naming the unknown type and the known ones.
std::unique_ptr<MaskGenerator> make_mask_generator(const MaskConfig& config);
std::vector<std::string> mask_types();

// Masked positions per time slice of the slice-wise strategies (tube, MOFO, MGM): int(ratio x
// rows x cols). One expression for masked_count() and generate(), so the two never round apart.
inline int masked_per_slice(double ratio, const MaskContext& grid) {
  return static_cast<int>(ratio * (grid.rows * grid.cols));
}

// Writes one slice's pattern (rows x cols) into every slice: a tube-shaped mask.
inline void repeat_over_slices(const std::vector<std::uint8_t>& spatial, const MaskContext& grid, std::uint8_t* mask) {
  for (int t = 0; t < grid.slices; ++t) std::copy(spatial.begin(), spatial.end(), mask + t * spatial.size());
}

// Fisher-Yates shuffle with the clip's stream (the same on every platform).
template <typename T>
void shuffle(std::vector<T>& v, Rng& rng) {
  for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng.uniform(i)]);
}

}  // namespace trainer
