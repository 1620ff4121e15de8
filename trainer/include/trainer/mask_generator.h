#pragma once
// Which tokens the encoder does not see. One strategy per file (tube_mask.cpp, random_mask.cpp,
// ...), chosen by name (`mask.type`) through make_mask_generator; adding one is its file and a line
// in mask_generator.cpp's registry (settings, help, `trainer masks` and the tests read the
// registry). Masks are made by the loader's threads with the clip's own random stream, so they are
// reproducible and cost the training loop nothing.
#include <trainer/clip_geometry.h>
#include <trainer/clip_needs.h>
#include <trainer/config.h>
#include <trainer/rng.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace trainer {

// A clip's motion maps as read (trajgen's `motion` of each frame of the clip: working pixels per
// native frame, on the seed grid) and the crop that made the clip, for a strategy that turns them
// into motion per token (MGM).
struct ClipMotion {
  const std::vector<std::vector<float>>* maps = nullptr;  // per frame of the clip, [grid_h, grid_w]
  int grid_h = 0, grid_w = 0, cell = 0;
  CropBox crop;
  int img_size = 0, patch = 0, tubelet = 0;
};

// What a strategy may look at: the token grid and, as it declared in needs(), the clip's motion
// (carried through the clip's crop and flip by the loader).
struct MaskContext {
  int slices = 0, rows = 0, cols = 0;  // token grid: tokens are (slice, row, col), row-major
  // needs().motion_box: the video's MOFO motion box (trajgen's motion_box_union) in token units:
  // x0, y0, x1, y1 with x in [0, cols], y in [0, rows].
  std::array<float, 4> box{0, 0, 0, 0};
  // needs().motion_map: the clip's motion maps.
  const ClipMotion* motion = nullptr;
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
  // The stored data the strategy reads (the loader provides them in the context).
  virtual ClipNeeds needs() const { return {}; }
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
