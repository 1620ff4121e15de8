// Dual TV-L1 (Zach et al. 2007; Sanchez et al. 2013) from OpenCV contrib: the classic "accurate"
// flow of two-stream networks, about 2 pairs/s per core at 340x256.
#include <flowgen/flow_backend.h>

#include <opencv2/optflow.hpp>

namespace flowgen {
namespace {

class Tvl1Backend final : public FlowBackend {
 public:
  bool compute(const FlowInput& in, cv::Mat& flow) override {
    flow.release();
    tvl1_->calc(in.prev_gray, in.next_gray, flow);
    return true;
  }

 private:
  cv::Ptr<cv::optflow::DualTVL1OpticalFlow> tvl1_ = cv::optflow::createOptFlow_DualTVL1();
};

}  // namespace

std::unique_ptr<FlowBackend> make_tvl1_backend() {
  return std::make_unique<Tvl1Backend>();
}

}  // namespace flowgen
