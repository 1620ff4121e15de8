// Codec motion vectors as flow: free (they come with decoding) and coarse (one vector per 16x16
// or 8x8 block). See motion_paint.h for the approximations.
#include <flowgen/flow_backend.h>
#include <flowgen/motion_paint.h>

namespace flowgen {
namespace {

class MvBackend final : public FlowBackend {
 public:
  bool compute(const FlowInput& in, cv::Mat& flow) override {
    return paint_motion(in.next_motion, in.next_gray.cols, in.next_gray.rows, 1, in.reference_distance, flow);
  }
};

}  // namespace

std::unique_ptr<FlowBackend> make_mv_backend() {
  return std::make_unique<MvBackend>();
}

}  // namespace flowgen
