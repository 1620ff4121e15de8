#pragma once
// MGM's motion map: the motion magnitude of each C x C cell of a frame, for motion-guided masking,
// from the dense flow or from the codec motion vectors.
#include <opencv2/core.hpp>

namespace trajgen {

// Mean of |v| over each cell x cell block of a quantised 2-channel field (CV_16SC2; pixels =
// value x scale) -> out[gh][gw]; blocks beyond the last whole one are ignored, as the seeds are.
void cell_magnitude(const cv::Mat& field, float scale, int cell, int gh, int gw, float* out);

}  // namespace trajgen
