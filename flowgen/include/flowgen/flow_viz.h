#pragma once
// Pictures of flow: the Middlebury colour coding (Baker et al. 2011: hue = direction,
// saturation = magnitude), and frame | flow strips for a quick look at a whole video.
#include <opencv2/core.hpp>

#include <filesystem>
#include <string>

namespace flowgen {

// RGB image of `flow` (CV_32FC2). Magnitudes are divided by `max_magnitude` (<= 0: the field's
// own maximum), so full saturation means max_magnitude pixels.
cv::Mat flow_to_color(const cv::Mat& flow, float max_magnitude = 0);

// The colour wheel itself (size x size), as a legend.
cv::Mat color_wheel(int size);

struct VizResult {
  std::filesystem::path flow_png, strip_png;
};

// Reads one video of a flow shard (part file) and writes <out_dir>/<name>-flow.png (the middle
// pair's flow) and <out_dir>/<name>-strip.png (`rows` pairs: frame | flow). Throws FileError.
VizResult write_flow_pictures(const std::filesystem::path& part, const std::string& video_id,
                              const std::filesystem::path& out_dir, int rows, float max_magnitude);

}  // namespace flowgen
