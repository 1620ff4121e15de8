#include <trainer/process_group.h>
#include <trainer/torch_error.h>

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef MME_HAVE_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef MME_HAVE_NCCL
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <thread>

namespace trainer {

namespace {

using Clock = std::chrono::steady_clock;

// How long a failing rank waits for the others to say they saw the failure too.
constexpr std::chrono::milliseconds kFailureGrace{5000};

std::vector<std::uint8_t> bytes(const std::string& s) {
  return {s.begin(), s.end()};
}
std::string text(const std::vector<std::uint8_t>& b) {
  return {b.begin(), b.end()};
}

// Waits until the store's counter `key` reaches `count`, polling, at most until `deadline`.
// Returns whether it did.
bool wait_for_count(c10d::Store& store, const std::string& key, int count, Clock::time_point deadline,
                    std::chrono::milliseconds poll) {
  while (store.add(key, 0) < count) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(poll);
  }
  return true;
}

// c10d's messages can run over several lines; the first says what happened.
std::string first_line(const std::exception& e) {
  auto message = error_message(e);
  const auto newline = message.find('\n');
  return newline == std::string::npos ? message : message.substr(0, newline);
}

double seconds(std::chrono::milliseconds t) {
  return std::chrono::duration<double>(t).count();
}

#ifdef MME_HAVE_GLOO
// The address of this host's interface that routes to the master: what Gloo must listen on for
// peers on other nodes (the hostname may resolve to a loopback address, or to another network).
std::string local_address_towards(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0 || !found)
    throw std::runtime_error(fmt::format("cannot resolve MASTER_ADDR '{}'", host));
  std::string address;
  const int fd = ::socket(found->ai_family, SOCK_DGRAM, 0);
  sockaddr_storage local{};
  socklen_t length = sizeof local;
  // A datagram socket's connect sends nothing: it only picks the route and the source address.
  if (fd >= 0 && ::connect(fd, found->ai_addr, found->ai_addrlen) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) == 0) {
    char buffer[INET6_ADDRSTRLEN] = {};
    const void* raw = local.ss_family == AF_INET6
                          ? static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(&local)->sin6_addr)
                          : static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(&local)->sin_addr);
    if (::inet_ntop(local.ss_family, raw, buffer, sizeof buffer)) address = buffer;
  }
  if (fd >= 0) ::close(fd);
  ::freeaddrinfo(found);
  if (address.empty()) throw std::runtime_error(fmt::format("no route to MASTER_ADDR '{}'", host));
  return address;
}

c10::intrusive_ptr<c10d::Backend> make_gloo(const c10::intrusive_ptr<c10d::Store>& store, const WorldInfo& w,
                                            std::chrono::milliseconds timeout) {
  auto options = c10d::ProcessGroupGloo::Options::create(timeout);
  // GLOO_SOCKET_IFNAME, as torch.distributed reads it, picks the interface by name.
  if (const char* names = std::getenv("GLOO_SOCKET_IFNAME"); names && *names) {
    std::string name = names;
    options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(name.substr(0, name.find(','))));
  } else {
    options->devices.push_back(
        c10d::ProcessGroupGloo::createDeviceForHostname(local_address_towards(w.master_addr, w.master_port)));
  }
  options->threads = 2;
  return c10::make_intrusive<c10d::ProcessGroupGloo>(store, w.rank, w.size, options);
}
#endif

}  // namespace

ProcessGroup::ProcessGroup(const WorldInfo& world, const torch::Device& device, std::chrono::milliseconds timeout)
    : world_(world), timeout_(timeout) {
  if (world_.launcher == "none") return;
  const auto where = fmt::format("{}:{}", world_.master_addr, world_.master_port);
  c10d::TCPStoreOptions options;
  options.port = static_cast<std::uint16_t>(world_.master_port);
  options.isServer = world_.rank == 0;
  options.numWorkers = world_.size;
  options.waitWorkers = true;
  options.timeout = timeout_;
  try {
    store_ = c10::make_intrusive<c10d::TCPStore>(world_.master_addr, options);
  } catch (const std::exception& e) {
    if (world_.rank == 0)
      throw std::runtime_error(fmt::format(
          "rank 0: the rendezvous at {} did not complete within {:g} s: not all {} ranks joined (start every rank "
          "with the same MASTER_ADDR, MASTER_PORT and world size; run.timeout sets the wait): {}",
          where, seconds(timeout_), world_.size, first_line(e)));
    throw std::runtime_error(
        fmt::format("rank {}: cannot reach rank 0's rendezvous at {} within {:g} s (is rank 0 running, and MASTER_ADDR "
                    "reachable from this host?): {}",
                    world_.rank, where, seconds(timeout_), first_line(e)));
  }
  auto backend_store = c10::make_intrusive<c10d::PrefixStore>("c10d", store_);
  try {
    if (device.is_cuda()) {
#ifdef MME_HAVE_NCCL
      c10::cuda::set_device(device.index());
      auto nccl = c10d::ProcessGroupNCCL::Options::create();
      nccl->timeout = timeout_;
      backend_ = c10::make_intrusive<c10d::ProcessGroupNCCL>(backend_store, world_.rank, world_.size, nccl);
#else
      throw std::runtime_error("this trainer was built without NCCL (nccl.h was not found when it was configured)");
#endif
    } else {
#ifdef MME_HAVE_GLOO
      backend_ = make_gloo(backend_store, world_, timeout_);
#else
      throw std::runtime_error(
          "this trainer was built without Gloo, the CPU backend (gloo's headers, Debian's libgloo-dev, were not "
          "found when it was configured)");
#endif
    }
  } catch (const RankFailure&) {
    throw;
  } catch (const std::exception& e) {
    throw std::runtime_error(
        fmt::format("rank {}: cannot set up the {} process group: {}", world_.rank, backend_name(), first_line(e)));
  }
}

ProcessGroup::~ProcessGroup() = default;

std::string ProcessGroup::backend_name() const {
  return backend_ ? backend_->getBackendName() : "none";
}

std::string ProcessGroup::key(const std::string& what, int rank) const {
  return fmt::format("mme/{}/{}", what, rank);
}

void ProcessGroup::agree(const std::string& what, const std::string& value, const Describe& describe) {
  if (!store_) return;
  const auto base = fmt::format("mme/agree/{}", agreements_++);
  try {
    store_->set(fmt::format("{}/{}", base, world_.rank), bytes(value));
    if (world_.rank != 0) {
      const auto theirs = text(store_->get(base + "/0"));
      if (theirs != value) {
        const auto problem =
            fmt::format("rank {} does not agree with rank 0 on the {}: {}", world_.rank, what,
                        describe ? describe(value, theirs) : fmt::format("{} here, {} on rank 0", value, theirs));
        store_->compareSet(base + "/problem", {}, bytes(problem));  // the first one stays
      }
    }
    // Wait until every rank has compared, so that all of them stop if one differs.
    constexpr std::chrono::milliseconds kPoll{20};
    store_->add(base + "/done", 1);
    if (!wait_for_count(*store_, base + "/done", world_.size, Clock::now() + timeout_, kPoll))
      throw std::runtime_error("not every rank arrived");
    const std::string problem = store_->check({base + "/problem"}) ? text(store_->get(base + "/problem")) : "";
    // Rank 0 hosts the store: it leaves (and may exit, taking the store with it) only once every
    // rank has read the outcome, so that each one stops with the message and not a lost connection.
    store_->add(base + "/read", 1);
    if (world_.rank == 0) wait_for_count(*store_, base + "/read", world_.size, Clock::now() + timeout_, kPoll);
    if (!problem.empty())
      throw std::invalid_argument(
          fmt::format("{} (every rank must run the same settings and see the same run directory)", problem));
  } catch (const std::invalid_argument&) {
    throw;
  } catch (const std::exception& e) {
    fail("comparison of the ranks' " + what, e);
  }
}

void ProcessGroup::broadcast(torch::Tensor& tensor, const std::string& what) {
  if (!active()) return;
  std::vector<at::Tensor> tensors{tensor};
  try {
    backend_->broadcast(tensors, c10d::BroadcastOptions{})->wait();
  } catch (const std::exception& e) {
    fail(what, e);
  }
}

void ProcessGroup::allreduce_sum(torch::Tensor& tensor, const std::string& what) {
  if (!active()) return;
  wait(allreduce_sum_async(tensor), what);
}

c10::intrusive_ptr<c10d::Work> ProcessGroup::allreduce_sum_async(torch::Tensor& tensor) {
  std::vector<at::Tensor> tensors{tensor};
  return backend_->allreduce(tensors, c10d::AllreduceOptions{});
}

void ProcessGroup::wait(const c10::intrusive_ptr<c10d::Work>& work, const std::string& what) {
  try {
    work->wait();
  } catch (const std::exception& e) {
    fail(what, e);
  }
}

void ProcessGroup::barrier(const std::string& what) {
  if (!active()) return;
  try {
    backend_->barrier(c10d::BarrierOptions{})->wait();
  } catch (const std::exception& e) {
    fail(what, e);
  }
}

void ProcessGroup::announce_error(const std::string& message) noexcept {
  if (!store_) return;
  try {
    store_->set(key("error", world_.rank), bytes(message));
  } catch (...) {
    // The store is gone too: the others will name this rank as not responding.
  }
}

void ProcessGroup::fail(const std::string& what, const std::exception& e) {
  const auto cause = first_line(e);
  std::vector<std::string> reasons;
  try {
    // Say this rank is alive and saw the failure; the ranks that do not say so are the culprits.
    const auto counter = std::string("mme/saw_failure");
    store_->add(counter, 1);
    const auto deadline = Clock::now() + std::min(kFailureGrace, timeout_);
    store_->set(key("saw_failure", world_.rank), bytes("1"));
    if (!wait_for_count(*store_, counter, world_.size, deadline, std::chrono::milliseconds(100))) {
      for (int r = 0; r < world_.size; ++r) {
        if (r == world_.rank || store_->check({key("saw_failure", r)})) continue;
        if (store_->check({key("error", r)}))
          reasons.push_back(fmt::format("rank {} stopped: {}", r, text(store_->get(key("error", r)))));
        else
          reasons.push_back(fmt::format("rank {} stopped responding (killed, crashed or hung)", r));
      }
    } else {
      reasons.push_back("every rank saw it (a network problem?)");
    }
    // Rank 0 hosts the store: it stays a moment so that the others can finish reading it.
    if (world_.rank == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  } catch (const std::exception&) {
    reasons.push_back(fmt::format("rank 0, which hosts the rendezvous store at {}:{}, is gone (killed or crashed)",
                                  world_.master_addr, world_.master_port));
  }
  throw RankFailure(fmt::format("rank {} of {}{}: the {} failed: {} ({})", world_.rank, world_.size,
                                step_ >= 0 ? fmt::format(", step {}", step_) : "", what, fmt::join(reasons, "; "),
                                cause));
}

}  // namespace trainer
