// tvl1-bench: the LibTorch Dual TV-L1 on the frames of a flowgen --algo tvl1 output, against the
// OpenCV TV-L1 flow stored beside them: pairs per second per device and batch size, and the mean
// end-point error between the two flows. Needs only LibTorch, HDF5 and libjpeg (the GPU machine
// has no OpenCV). Prints one Markdown table row per configuration.
#include <flowgen/tvl1_torch.h>
#include <torch/cuda.h>
#include <torch/utils.h>

#include <mme/cli.h>
#include <mme/error.h>
#include <mme/jpeg.h>
#include <mme/log.h>
#include <mme/part_store.h>
#include <mme/shard_schema.h>
#include <mme/shard_store.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
namespace schema = mme::schema;
using Clock = std::chrono::steady_clock;

// Frame pairs of one working size: grey frames as flowgen's flow saw them (decoded from the stored
// JPEGs) and the stored flow, dequantised.
struct Pairs {
  std::int64_t height = 0, width = 0;
  std::vector<torch::Tensor> prev, next, flow;  // [H,W], [H,W], [H,W,2]
  std::size_t skipped_videos = 0;               // of another working size
};

torch::Tensor grey(const mme::RgbImage& rgb) {
  // BT.601 luma, the grey the trainer and OpenCV's cvtColor use.
  const auto pixels =
      torch::from_blob(const_cast<std::uint8_t*>(rgb.pixels.data()), {rgb.height, rgb.width, 3}, torch::kUInt8)
          .to(torch::kFloat);
  const auto weights = torch::tensor({0.299f, 0.587f, 0.114f});
  return (pixels * weights).sum(-1);
}

Pairs load(const fs::path& flow_dir, std::size_t max_pairs) {
  Pairs out;
  for (const auto& [id, part] : mme::scan_videos(flow_dir)) {
    if (out.prev.size() >= max_pairs) break;
    const mme::ShardReader shard(flow_dir / part);
    const auto video = shard.video(id);
    if (!video.has_dataset(schema::flow::frames))
      throw mme::FileError(flow_dir / part, "video " + id + " has no frames (made with --frames none?)");
    const auto flow = video.dataset(schema::flow::flow);
    const auto& shape = flow.info().shape;  // [pairs, H, W, 2]
    if (shape.size() != 4 || shape[0] == 0) continue;
    const auto h = static_cast<std::int64_t>(shape[1]), w = static_cast<std::int64_t>(shape[2]);
    if (out.prev.empty()) out.height = h, out.width = w;
    if (h != out.height || w != out.width) {
      ++out.skipped_videos;
      continue;
    }
    const auto scale = static_cast<float>(flow.get(schema::dataset::scale));
    const auto present = video.dataset(schema::flow::flow_present).read<std::uint8_t>();
    const auto offsets = video.dataset(schema::flow::frame_offsets).read<std::int64_t>();
    const auto frames = video.dataset(schema::flow::frames);
    auto frame = [&](std::size_t i) {
      const auto begin = static_cast<std::uint64_t>(offsets.at(i)), end = static_cast<std::uint64_t>(offsets.at(i + 1));
      const auto jpeg = frames.read_slab<std::uint8_t>({begin}, {end - begin});
      return grey(mme::decode_jpeg(jpeg.data(), jpeg.size()));
    };
    torch::Tensor current = frame(0);
    for (std::uint64_t i = 0; i < shape[0] && out.prev.size() < max_pairs; ++i) {
      auto following = frame(i + 1);
      if (present.at(i)) {
        const auto q = flow.read_slab<std::int16_t>({i, 0, 0, 0}, {1, shape[1], shape[2], 2});
        out.flow.push_back(torch::from_blob(const_cast<std::int16_t*>(q.data()), {h, w, 2}, torch::kInt16)
                               .to(torch::kFloat)
                               .mul_(scale));
        out.prev.push_back(current);
        out.next.push_back(following);
      }
      current = following;
    }
  }
  return out;
}

std::vector<int> parse_ints(const std::string& list) {
  std::vector<int> out;
  std::size_t start = 0;
  while (start < list.size()) {
    const auto comma = std::min(list.find(',', start), list.size());
    out.push_back(std::stoi(list.substr(start, comma - start)));
    start = comma + 1;
  }
  return out;
}

std::vector<std::string> parse_list(const std::string& list) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < list.size()) {
    const auto comma = std::min(list.find(',', start), list.size());
    out.push_back(list.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

void synchronize(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Throughput and error of the LibTorch Dual TV-L1 against the OpenCV TV-L1 flow of a flowgen output",
               "tvl1-bench"};
  fs::path flow_dir;
  std::string devices = "cpu", batches = "1";
  std::size_t max_pairs = 64;
  int threads = 1, check_every = 0;
  app.add_option("--flow", flow_dir, "flowgen output directory made with --algo tvl1 (frames stored as JPEG)")
      ->required()
      ->check(CLI::ExistingDirectory);
  app.add_option("--device", devices, "Devices, comma separated: cpu, cuda, cuda:N")->capture_default_str();
  app.add_option("--batch", batches, "Pairs per tvl1_flow call, comma separated")->capture_default_str();
  app.add_option("--pairs", max_pairs, "Pairs read from the output (the first videos' first pairs)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--threads", threads, "LibTorch CPU threads")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--check-every", check_every, "Inner iterations between convergence checks (0: 1 on CPU, 10 on CUDA)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  mme::cli::setup(app, {{"tvl1-bench --flow flow-tvl1", "one pair at a time on one CPU thread"},
                        {"tvl1-bench --flow flow-tvl1 --device cuda --batch 1,16,64 --pairs 256", "GPU batch sizes"}});
  if (int rc = mme::cli::parse(app, argc, argv); rc >= 0) return rc;
  torch::set_num_threads(threads);

  std::vector<torch::Device> device_list;
  try {
    for (const auto& name : parse_list(devices)) device_list.emplace_back(name);
  } catch (const c10::Error& e) {
    mme::log::error("--device: {}", e.what_without_backtrace());
    return mme::cli::kUsage;
  }
  std::vector<int> batch_list;
  try {
    batch_list = parse_ints(batches);
  } catch (const std::exception&) {
    batch_list.clear();
  }
  if (batch_list.empty() || *std::min_element(batch_list.begin(), batch_list.end()) < 1) {
    mme::log::error("--batch: expected positive numbers separated by commas, got '{}'", batches);
    return mme::cli::kUsage;
  }
  for (const auto& device : device_list)
    if (device.is_cuda() && std::max<int>(device.index(), 0) >= static_cast<int>(torch::cuda::device_count())) {
      mme::log::error("--device {}: this machine has {} CUDA devices", device.str(), torch::cuda::device_count());
      return mme::cli::kFatal;
    }

  try {
    const auto settings_file = flow_dir / schema::kFlowSettingsFile;
    if (std::ifstream in(settings_file); in) {
      const auto algo = nlohmann::json::parse(in).value(schema::flow_settings::algo.name, std::string());
      if (algo != "tvl1")
        mme::log::warn("{} was made with --algo {}: the error is against that flow, not OpenCV's TV-L1",
                       flow_dir.string(), algo);
    }
    const auto pairs = load(flow_dir, max_pairs);
    if (pairs.prev.empty()) throw mme::FileError(flow_dir, "holds no flow pairs");
    if (pairs.skipped_videos)
      mme::log::warn("{} videos of another working size than {}x{} left out", pairs.skipped_videos, pairs.width,
                     pairs.height);
    const auto n = static_cast<std::int64_t>(pairs.prev.size());
    const auto all_prev = torch::stack(pairs.prev), all_next = torch::stack(pairs.next);
    const auto stored = torch::stack(pairs.flow);

    std::printf("| device | batch | pairs | size | seconds | pairs/s | EPE vs stored OpenCV TV-L1 (px) |\n");
    std::printf("|---|---:|---:|---|---:|---:|---:|\n");
    flowgen::Tvl1Params params;
    params.check_every = check_every;
    for (const auto& device : device_list) {
      const auto prev = all_prev.to(device), next = all_next.to(device);
      for (const int batch : batch_list) {
        // Every pair once, in batches (the last one wraps around to the first pairs so that all
        // calls have the same size); a first batch, untimed, warms up the allocator and kernels.
        const std::int64_t calls = (n + batch - 1) / batch;
        auto batch_of = [&](std::int64_t call) {
          return torch::arange(call * batch, (call + 1) * batch, torch::kLong).remainder(n).to(device);
        };
        {
          const auto index = batch_of(0);
          flowgen::tvl1_flow(prev.index_select(0, index), next.index_select(0, index), params);
          synchronize(device);
        }
        std::vector<torch::Tensor> flows;
        const auto start = Clock::now();
        for (std::int64_t call = 0; call < calls; ++call) {
          const auto index = batch_of(call);
          flows.push_back(flowgen::tvl1_flow(prev.index_select(0, index), next.index_select(0, index), params));
        }
        synchronize(device);
        const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
        const auto flow = torch::cat(flows).narrow(0, 0, n).cpu();
        const double epe = (flow - stored).square().sum(-1).sqrt().mean().item<double>();
        std::printf("| %s | %d | %lld | %lldx%lld | %.2f | %.2f | %.3f |\n", device.str().c_str(), batch,
                    static_cast<long long>(calls * batch), static_cast<long long>(pairs.width),
                    static_cast<long long>(pairs.height), seconds, calls * batch / seconds, epe);
        std::fflush(stdout);
      }
    }
    return mme::cli::kOk;
  } catch (const c10::Error& e) {
    mme::log::error("{}", e.what_without_backtrace());
    return mme::cli::kFatal;
  } catch (const std::exception& e) {
    mme::log::error("{}", e.what());
    return mme::cli::kFatal;
  }
}
