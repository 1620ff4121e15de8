#pragma once
// Which tokens the encoder does not see. One strategy per file (tube_mask.cpp, random_mask.cpp,
// ...), chosen by name (`mask.type`) through make_mask_generator; adding one touches its file and a
// line in mask_generator.cpp. Masks are made by the loader's threads with the clip's own random
// stream, so they are reproducible and cost the training loop nothing.
#include <trainer/config.h>
#include <trainer/rng.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace trainer {

// What a strategy may look at: the token grid, and per time slice what the clip's targets say
// about motion (filled by the loader when a strategy asks for it, see needs_motion()).
struct MaskContext {
  int slices = 0, rows = 0, cols = 0;  // token grid: tokens are (slice, row, col), row-major
  // Motion box of each slice in token units (x0, y0, x1, y1), after crop and flip.
  std::vector<std::array<float, 4>> boxes;
  // Motion magnitude per token [slices, rows, cols].
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

// Fisher-Yates shuffle with the clip's stream (the same on every platform).
template <typename T>
void shuffle(std::vector<T>& v, Rng& rng) {
  for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng.uniform(i)]);
}

}  // namespace trainer
