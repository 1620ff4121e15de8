// Dual TV-L1 (Zach et al. 2007; Sanchez et al. 2013) from OpenCV contrib: the classic "accurate"
// flow of two-stream networks, about 2 pairs/s per core at 340x256. A module (backend_module.h):
// OpenCV's optflow needs imgcodecs and through it GDAL and GDCM, ~200 shared libraries that took
// 0.2 s at every flowgen start, whatever the algorithm.
#include <flowgen/backend_module.h>
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

}  // namespace flowgen

extern "C" flowgen::FlowBackend* mme_flowgen_backend_factory(const std::string& backend,
                                                             const flowgen::BackendOptions&) {
  if (backend != "tvl1") throw std::runtime_error("module flowgen_tvl1 has no backend '" + backend + "'");
  return new flowgen::Tvl1Backend();
}
