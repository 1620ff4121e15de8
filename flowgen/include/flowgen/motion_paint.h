#pragma once
// Codec motion vectors made dense: each block's forward motion, divided by the distance to its
// reference frame, painted over the block.
//
// Approximations, by necessity (FFmpeg exports neither reference indices nor distances):
// - the distance is taken from picture types: the frames since the last I/P frame in display
//   order (exact for P-frames of streams without multi-reference; B-frame pyramids and blocks that
//   reference older frames are misjudged);
// - only past-reference vectors are painted (a block predicted only from the future stays 0);
// - vectors describe motion INTO frame t+1 at its block positions; used as flow t -> t+1 they are
//   placed at the destination rather than the source (an error of one displacement).
#include <mme/motion_vector.h>

#include <opencv2/core.hpp>

namespace flowgen {

// Paints `motion` into `out` (CV_32FC2, rows x cols) where the frame is `width` x `height` pixels:
// out covers the frame at 1/cell resolution (cols = width / cell). Values are in frame pixels per
// frame step. Returns false (and zeros) when the frame carries no vectors.
bool paint_motion(const mme::FrameMotion& motion, int width, int height, int cell, int distance, cv::Mat& out);

// Tracks picture types in display order to tell each frame's distance to its past reference.
class ReferenceDistance {
 public:
  // Call once per frame, in display order; returns the distance for that frame (>= 1).
  int next(char picture_type);

 private:
  long long index_ = -1;
  long long last_reference_ = -1;
};

}  // namespace flowgen
