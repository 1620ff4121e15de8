#pragma once
// A dense optical flow algorithm behind one small interface, one implementation per file
// (backend_*.cpp), chosen by name. GPU backends drop in the same way.
//
// A backend instance is used by one thread at a time; flowgen keeps one per worker thread.
#include <mme/motion_vector.h>

#include <opencv2/core.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace flowgen {

// What a backend may look at for one pair of consecutive frames t -> t+1.
struct FlowInput {
  const cv::Mat& prev_gray;             // CV_8UC1, frame t
  const cv::Mat& next_gray;             // CV_8UC1, frame t+1
  const mme::FrameMotion& next_motion;  // codec motion vectors of frame t+1 (when decoded with them)
  int reference_distance = 1;           // frames between t+1 and its reference (see backend_mv.cpp)
};

class FlowBackend {
 public:
  virtual ~FlowBackend() = default;
  // Computes forward flow t -> t+1 into `flow` (CV_32FC2, x then y, pixels). Returns false when
  // the backend has no flow for this pair (codec motion vectors on an I-frame).
  virtual bool compute(const FlowInput& input, cv::Mat& flow) = 0;
};

// Where and how a backend runs: only the GPU backends look at these.
struct BackendOptions {
  std::string device = "cpu";  // "cpu", "cuda" or "cuda:N"
  int max_batch = 64;          // pairs computed together (GPU backends batch across threads)
};

struct BackendInfo {
  std::string name;
  std::string description;
  bool needs_motion_vectors = false;  // decode with export_mvs (not a dense flow of the pixels)
  std::function<std::unique_ptr<FlowBackend>(const BackendOptions&)> create;
  bool slow = false;         // under a few pairs per second on a CPU core: benchmarks give it a shorter list
  bool uses_device = false;  // runs on BackendOptions::device (--device)
  std::unique_ptr<FlowBackend> make(const BackendOptions& options = {}) const { return create(options); }
};

// Every backend, in the order --help lists them. A new backend is its file plus a line in
// flow_backends.cpp (those that need a heavy library, OpenCV's optflow or LibTorch, live in a
// module loaded only when they are asked for: backend_module.h); --algo, --help, flowgen-bench and the accuracy test
// take them from here (the test fails for a dense backend that has no accuracy thresholds yet).
const std::vector<BackendInfo>& flow_backends();
// The names of the backends that compute dense flow from the pixels (all but codec vectors).
std::vector<std::string> dense_flow_backends();
// Throws std::invalid_argument naming the known backends.
const BackendInfo& flow_backend(const std::string& name);

}  // namespace flowgen
