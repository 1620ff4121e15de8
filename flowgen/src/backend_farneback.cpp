// Farneback (2003) polynomial expansion flow. The MME public code runs OpenCV's CUDA Farneback
// with the library defaults; these are the CPU defaults of cv::FarnebackOpticalFlow::create.
#include <flowgen/flow_backend.h>

#include <opencv2/video/tracking.hpp>

namespace flowgen {
namespace {

class FarnebackBackend final : public FlowBackend {
 public:
  bool compute(const FlowInput& in, cv::Mat& flow) override {
    flow.release();
    farneback_->calc(in.prev_gray, in.next_gray, flow);
    return true;
  }

 private:
  cv::Ptr<cv::FarnebackOpticalFlow> farneback_ = cv::FarnebackOpticalFlow::create();
};

}  // namespace

std::unique_ptr<FlowBackend> make_farneback_backend() {
  return std::make_unique<FarnebackBackend>();
}

}  // namespace flowgen
