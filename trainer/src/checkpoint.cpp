#include <trainer/checkpoint.h>
#include <trainer/torch_error.h>

#include <mme/json_file.h>
#include <mme/atomic_file.h>
#include <mme/error.h>

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>

namespace trainer {

namespace fs = std::filesystem;

void save_checkpoint(const fs::path& path, torch::nn::Module& model, torch::optim::Optimizer& optimizer,
                     const CheckpointState& state) {
  torch::serialize::OutputArchive archive, weights, moments;
  model.save(weights);
  optimizer.save(moments);
  archive.write("model", weights);
  archive.write("optimizer", moments);
  archive.write("step", torch::tensor(static_cast<std::int64_t>(state.step)));
  archive.write("identity", c10::IValue(state.identity));
  archive.write("cpu_rng", at::detail::getDefaultCPUGenerator().get_state());
  // Written through our own file (not save_to(path)), so that a full disk is reported as such:
  // "No space left on device writing RUNDIR/checkpoint.pt" (OutputError), with no temporary left.
  // The writer is told every write succeeded: a short write makes LibTorch's zip writer throw, and
  // throw again from its destructor, which aborts the process. The first failure is kept and
  // reported by commit().
  mme::AtomicWriter out(path);
  try {
    archive.save_to([&](const void* data, std::size_t size) -> std::size_t {
      out.write(data, size);
      return size;
    });
  } catch (const std::exception& e) {
    if (out.error() == 0) throw mme::FileError(path, fmt::format("cannot write the checkpoint: {}", error_message(e)));
  }
  out.commit();  // throws the write's system error, if there was one
}

CheckpointState load_checkpoint(const fs::path& path, torch::nn::Module& model, torch::optim::Optimizer& optimizer,
                                const torch::Device& device) {
  CheckpointState state;
  try {
    torch::serialize::InputArchive archive, weights, moments;
    archive.load_from(path.string(), device);
    archive.read("model", weights);
    model.load(weights);
    archive.read("optimizer", moments);
    optimizer.load(moments);
    torch::Tensor step, rng;
    archive.read("step", step);
    state.step = step.item<std::int64_t>();
    c10::IValue identity;
    archive.read("identity", identity);
    state.identity = identity.toStringRef();
    archive.read("cpu_rng", rng);
    rng = rng.cpu();
    auto generator = at::detail::getDefaultCPUGenerator();  // a handle to the global generator
    std::lock_guard lock(generator.mutex());
    generator.set_state(rng);
  } catch (const std::exception& e) {
    throw mme::FileError(path, fmt::format("cannot read the checkpoint: {}", error_message(e)));
  }
  return state;
}

nlohmann::json checkpoint_settings(const fs::path& path) {
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(path.string(), torch::kCPU);
    c10::IValue identity;
    archive.read("identity", identity);
    return mme::parse_json(identity.toStringRef());
  } catch (const std::exception& e) {
    throw mme::FileError(path, fmt::format("cannot read the checkpoint's settings: {}", error_message(e)));
  }
}

void load_weights(const fs::path& path, torch::nn::Module& model, const torch::Device& device) {
  try {
    torch::serialize::InputArchive archive, weights;
    archive.load_from(path.string(), device);
    archive.read("model", weights);
    model.load(weights);
  } catch (const std::exception& e) {
    throw mme::FileError(
        path, fmt::format("cannot read the checkpoint's weights (other model settings?): {}", error_message(e)));
  }
}

}  // namespace trainer
