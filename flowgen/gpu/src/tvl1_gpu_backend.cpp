// flowgen's tvl1-gpu backend, a module (backend_module.h) so that only runs that ask for it load
// LibTorch. flowgen computes one pair per worker thread; a GPU wants many at once. So on CUDA every
// backend instance of a device hands its pair to that device's Batcher and waits: one thread per
// device gathers the pairs in flight (up to max_batch, of one frame size), runs tvl1_flow on all
// of them together and hands each its flow back. With --threads T, up to T pairs are in flight.
// On the CPU each worker thread computes its own pair (a batch is no faster there: converged
// pairs still cost their masked share until the slowest one ends).
#include <flowgen/backend_module.h>
#include <flowgen/tvl1_torch.h>

#include <torch/cuda.h>
#include <torch/torch.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace flowgen {
namespace {

// How long the batcher waits for more pairs after the first of a batch arrives: long enough for
// the other worker threads to hand theirs in, short against a batch's run time (tens of ms).
constexpr auto kGatherTime = std::chrono::milliseconds(4);

// The flows of pairs of grey frames of one size (CV_8UC1), computed together on `device`.
void solve_pairs(const torch::Device& device, const std::vector<const cv::Mat*>& prev,
                 const std::vector<const cv::Mat*>& next, const std::vector<cv::Mat*>& flows) {
  const int n = static_cast<int>(prev.size()), h = prev[0]->rows, w = prev[0]->cols;
  auto host = torch::empty({2, n, h, w}, torch::kUInt8);
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < 2; ++k) {
      const cv::Mat& m = k == 0 ? *prev[i] : *next[i];
      CV_Assert(m.type() == CV_8UC1 && m.rows == h && m.cols == w);
      auto* dst = host[k][i].data_ptr<std::uint8_t>();
      for (int y = 0; y < h; ++y) std::memcpy(dst + static_cast<std::size_t>(y) * w, m.ptr(y), w);
    }
  const auto frames = host.to(device).to(torch::kFloat32);
  const auto flow = tvl1_flow(frames[0], frames[1]).to(torch::kCPU).contiguous();
  for (int i = 0; i < n; ++i) {
    flows[i]->create(h, w, CV_32FC2);
    std::memcpy(flows[i]->data, flow[i].data_ptr<float>(), static_cast<std::size_t>(h) * w * 2 * sizeof(float));
  }
}

class Batcher {
 public:
  Batcher(torch::Device device, int max_batch)
      : device_(device), max_batch_(std::max(1, max_batch)), worker_([this] { run(); }) {}

  // Blocks until the flow of this pair is in `flow` (CV_32FC2); rethrows the batch's error.
  void compute(const cv::Mat& prev, const cv::Mat& next, cv::Mat& flow) {
    Request request{&prev, &next, &flow, false, nullptr};
    std::unique_lock lock(mutex_);
    queue_.push_back(&request);
    work_.notify_one();
    done_.wait(lock, [&] { return request.done; });
    if (request.error) std::rethrow_exception(request.error);
  }

 private:
  struct Request {
    const cv::Mat *prev, *next;
    cv::Mat* flow;
    bool done = false;
    std::exception_ptr error;
  };

  // Never returns: the batcher lives as long as the process (it is never destroyed, so no thread
  // is joined while LibTorch shuts down).
  void run() {
    torch::NoGradGuard no_grad;
    for (;;) {
      std::vector<Request*> batch;
      {
        std::unique_lock lock(mutex_);
        work_.wait(lock, [&] { return !queue_.empty(); });
        if (max_batch_ > 1)
          work_.wait_for(lock, kGatherTime, [&] { return static_cast<int>(queue_.size()) >= max_batch_; });
        const cv::Size size = queue_.front()->prev->size();
        for (auto it = queue_.begin(); it != queue_.end() && static_cast<int>(batch.size()) < max_batch_;) {
          if ((*it)->prev->size() == size) {
            batch.push_back(*it);
            it = queue_.erase(it);
          } else {
            ++it;
          }
        }
      }
      std::exception_ptr error;
      try {
        solve(batch);
      } catch (...) {
        error = std::current_exception();
      }
      std::lock_guard lock(mutex_);
      for (auto* r : batch) {
        r->error = error;
        r->done = true;
      }
      done_.notify_all();
    }
  }

  void solve(const std::vector<Request*>& batch) {
    std::vector<const cv::Mat*> prev, next;
    std::vector<cv::Mat*> flows;
    for (auto* r : batch) {
      prev.push_back(r->prev);
      next.push_back(r->next);
      flows.push_back(r->flow);
    }
    solve_pairs(device_, prev, next, flows);
  }

  torch::Device device_;
  int max_batch_;
  std::mutex mutex_;
  std::condition_variable work_, done_;
  std::deque<Request*> queue_;
  std::thread worker_;
};

torch::Device parse_device(const std::string& name) {
  torch::Device device("cpu");
  try {
    device = torch::Device(name);
  } catch (const c10::Error&) {
    throw std::runtime_error("--device " + name + ": not a device (cpu, cuda or cuda:N)");
  }
  if (device.is_cuda()) {
    const auto count = torch::cuda::device_count();
    if (std::max<int>(device.index(), 0) >= static_cast<int>(count))
      throw std::runtime_error("--device " + name + ": this machine has " + std::to_string(count) + " CUDA devices");
  } else if (!device.is_cpu()) {
    throw std::runtime_error("--device " + name + ": only cpu and cuda devices are supported");
  }
  return device;
}

Batcher& batcher_for(const torch::Device& device, int max_batch) {
  static std::mutex mutex;
  static std::map<std::string, Batcher*> batchers;
  std::lock_guard lock(mutex);
  auto& b = batchers[device.str()];
  if (!b) b = new Batcher(device, max_batch);  // never deleted: see Batcher::run
  return *b;
}

class Tvl1GpuBackend final : public FlowBackend {
 public:
  Tvl1GpuBackend(const torch::Device& device, Batcher* batcher) : device_(device), batcher_(batcher) {}
  bool compute(const FlowInput& in, cv::Mat& flow) override {
    if (batcher_) {
      batcher_->compute(in.prev_gray, in.next_gray, flow);
    } else {
      torch::NoGradGuard no_grad;
      solve_pairs(device_, {&in.prev_gray}, {&in.next_gray}, {&flow});
    }
    return true;
  }

 private:
  torch::Device device_;
  Batcher* batcher_;  // null on the CPU
};

}  // namespace
}  // namespace flowgen

extern "C" flowgen::FlowBackend* mme_flowgen_backend_factory(const std::string& backend,
                                                             const flowgen::BackendOptions& options) {
  if (backend != "tvl1-gpu") throw std::runtime_error("module flowgen_tvl1_gpu has no backend '" + backend + "'");
  const auto device = flowgen::parse_device(options.device);
  // Parallelism is flowgen's (one pair per worker thread); LibTorch's own threads would fight it.
  if (device.is_cpu()) torch::set_num_threads(1);
  return new flowgen::Tvl1GpuBackend(device,
                                     device.is_cuda() ? &flowgen::batcher_for(device, options.max_batch) : nullptr);
}
