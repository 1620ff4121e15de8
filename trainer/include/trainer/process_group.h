#pragma once
// The processes of a data-parallel run, as torch.distributed's default group: a c10d TCPStore at
// the master (rank 0 hosts it) for the rendezvous, and a ProcessGroupNCCL (CUDA) or
// ProcessGroupGloo (CPU) for the collectives. Started by a launcher (torchrun, srun), a run has a
// group even with one rank (a 1-GPU NCCL run exercises the same path); started by hand, it has none
// and every collective returns at once.
//
// Failures are named: when a collective throws (a peer closed its connections, or nothing came
// within run.timeout), each surviving rank says so in the store and waits a few seconds for the
// others to do the same; the ranks that did not are the ones that died or hang, and the error says
// which (with the message a rank that stopped on its own error left behind).
#include <trainer/world.h>

#include <torch/torch.h>
#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>

#include <chrono>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace trainer {

// A collective failed because another rank is gone, hung or stopped on an error.
class RankFailure : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

class ProcessGroup {
 public:
  // Rendezvous of world.size processes; throws std::runtime_error with one line that names the
  // master's address and what did not happen in time. `device`: CUDA selects NCCL.
  ProcessGroup(const WorldInfo& world, const torch::Device& device, std::chrono::milliseconds timeout);
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const { return world_.rank; }
  int size() const { return world_.size; }
  bool is_main() const { return world_.rank == 0; }
  bool active() const { return backend_ != nullptr; }
  const WorldInfo& world() const { return world_; }
  std::string backend_name() const;

  // Every rank must hold the same `value` (settings as JSON, a resume step): throws
  // std::invalid_argument on every rank, naming a rank that differs and how; `describe(mine,
  // rank 0's)` says how (default: both values).
  using Describe = std::function<std::string(const std::string&, const std::string&)>;
  void agree(const std::string& what, const std::string& value, const Describe& describe = {});

  // Collectives over every rank, in place. `what` names them in errors.
  void broadcast(torch::Tensor& tensor, const std::string& what);  // rank 0's values
  void allreduce_sum(torch::Tensor& tensor, const std::string& what);
  void barrier(const std::string& what);
  // For overlapped reductions (GradientReducer): start one, wait for it later.
  c10::intrusive_ptr<c10d::Work> allreduce_sum_async(torch::Tensor& tensor);
  void wait(const c10::intrusive_ptr<c10d::Work>& work, const std::string& what);

  // The step errors name (set by the training loop).
  void set_step(long step) { step_ = step; }

  // Leaves this rank's reason to stop in the store, for the other ranks' errors. Never throws.
  void announce_error(const std::string& message) noexcept;

 private:
  [[noreturn]] void fail(const std::string& what, const std::exception& e);
  std::string key(const std::string& what, int rank) const;

  WorldInfo world_;
  std::chrono::milliseconds timeout_;
  long step_ = -1;
  int agreements_ = 0;
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<c10d::Backend> backend_;
};

}  // namespace trainer
