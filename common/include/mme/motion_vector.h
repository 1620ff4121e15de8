#pragma once
// Codec motion vectors (what H.264 and the MPEG-1/2/4 / H.263 family carry for free).
//
// Sign convention (FFmpeg's AVMotionVector): the block whose centre is `dst` in the current frame
// was predicted from `src` = dst + motion / motion_scale in a reference frame. We turn every vector
// into FORWARD motion, the displacement of the content going forward in time:
//   past reference   (source < 0): content moved from src (earlier) to dst (now): fwd = dst - src
//   future reference (source > 0): content will move from dst (now) to src (later): fwd = src - dst
// The displacement spans the distance to the reference frame, which FFmpeg does not export: for
// P-frames of low-delay streams it is one frame; `reference` only tells the direction.
#include <cstdint>
#include <vector>

namespace mme {

struct MotionVector {
  float x = 0, y = 0;          // block centre in the current frame, output pixels (after resize/rotation)
  float dx = 0, dy = 0;        // forward motion, output pixels
  std::uint16_t w = 0, h = 0;  // block size, output pixels (rounded)
  std::int8_t reference = -1;  // -1: past reference frame, +1: future reference frame
};

struct FrameMotion {
  // Whether the codec exported vectors for this frame at all: I-frames and codecs without motion
  // vectors have none, which is not the same as "no motion".
  bool has_vectors = false;
  std::vector<MotionVector> vectors;
};

}  // namespace mme
