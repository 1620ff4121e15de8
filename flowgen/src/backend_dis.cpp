// DIS (Kroeger et al. 2016): the fastest CPU flow of OpenCV, with three quality presets.
#include <flowgen/flow_backend.h>

#include <opencv2/video/tracking.hpp>

namespace flowgen {
namespace {

class DisBackend final : public FlowBackend {
 public:
  explicit DisBackend(int preset) : dis_(cv::DISOpticalFlow::create(preset)) {}
  bool compute(const FlowInput& in, cv::Mat& flow) override {
    // No warm start: each pair is computed from scratch, so results do not depend on which
    // thread saw which pair before (bit-identical output whatever --threads).
    flow.release();
    dis_->calc(in.prev_gray, in.next_gray, flow);
    return true;
  }

 private:
  cv::Ptr<cv::DISOpticalFlow> dis_;
};

}  // namespace

std::unique_ptr<FlowBackend> make_dis_backend(int preset) {
  static_assert(cv::DISOpticalFlow::PRESET_ULTRAFAST == 0 && cv::DISOpticalFlow::PRESET_MEDIUM == 2);
  return std::make_unique<DisBackend>(preset);
}

}  // namespace flowgen
