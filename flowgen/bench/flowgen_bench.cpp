// flowgen-bench: flowgen end to end against raw OpenCV flow on the same decoded frames, and the
// size and error of flow encodings. Prints Markdown tables (scripts/bench-flowgen.sh puts them in
// docs/benchmarks.md).
#include <flowgen/flow_backend.h>
#include <flowgen/quantize.h>
#include <flowgen/run.h>
#include <mme/chunk_codec.h>
#include <mme/cli.h>
#include <mme/dataset_list.h>
#include <mme/loco_filter.h>
#include <mme/log.h>
#include <mme/video_reader.h>

#include <fmt/format.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/global_control.h>
#include <tbb/parallel_for.h>

#include <unistd.h>
#include <chrono>
#include <cmath>
#include <fstream>
#include <functional>
#include <opencv2/imgcodecs.hpp>

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

struct Pair {
  const cv::Mat* prev;
  const cv::Mat* next;
};

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    const auto comma = s.find(',', start);
    out.push_back(s.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

// The usual way flow is stored for two-stream networks: each component clipped to +-bound px,
// mapped to 0..255 and written as a grey JPEG. Returns bytes; `decoded` gets the flow back.
std::size_t jpeg_flow(const cv::Mat& flow, float bound, int quality, cv::Mat& decoded) {
  std::vector<cv::Mat> ch(2), back(2);
  cv::split(flow, ch);
  std::size_t bytes = 0;
  for (int c = 0; c < 2; ++c) {
    cv::Mat u8;
    ch[c].convertTo(u8, CV_8U, 255.0 / (2 * bound), 127.5);  // saturate_cast clips
    std::vector<std::uint8_t> buf;
    cv::imencode(".jpg", u8, buf, {cv::IMWRITE_JPEG_QUALITY, quality});
    bytes += buf.size();
    cv::imdecode(buf, cv::IMREAD_GRAYSCALE).convertTo(back[c], CV_32F, 2 * bound / 255.0, -bound * 127.5 * 2 / 255.0);
  }
  cv::merge(back, decoded);
  return bytes;
}

double rms(const cv::Mat& a, const cv::Mat& b) {
  cv::Mat d = a - b;
  return std::sqrt(cv::mean(d.mul(d))[0] + cv::mean(d.mul(d))[1]) / std::sqrt(2.0);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Benchmark flowgen against raw OpenCV flow, and flow encodings", "flowgen-bench"};
  std::filesystem::path list, root = ".", work = "/tmp/flowgen-bench";
  std::string algos, threads_list = "1,2";
  for (const auto& name : flowgen::dense_flow_backends()) algos += (algos.empty() ? "" : ",") + name;
  std::string slow_list;
  int short_side = 256, codec_pairs = 200;
  app.add_option("--list", list, "Dataset list")->required()->check(CLI::ExistingFile);
  app.add_option("--root", root, "Root of the list's paths");
  app.add_option("--slow-list", slow_list, "A smaller list for the slow backends (farneback, tvl1; default: --list)");
  app.add_option("--algos", algos, "Algorithms, comma separated")->capture_default_str();
  app.add_option("--threads", threads_list, "Thread counts, comma separated")->capture_default_str();
  app.add_option("--short-side", short_side, "Working short side (256 gives 340x256 on 4:3 video)")
      ->capture_default_str();
  app.add_option("--codec-pairs", codec_pairs, "Flow fields per algorithm for the encoding table")
      ->capture_default_str();
  app.add_option("--work", work, "Scratch directory")->capture_default_str();
  mme::cli::setup(app, {{"flowgen-bench --list ~/.cache/mme/samples/list.txt --root ~/.cache/mme/samples", "all"}});
  if (int rc = mme::cli::parse(app, argc, argv); rc >= 0) return rc;
  mme::log::set_level(mme::log::Level::warn);
  cv::setNumThreads(1);

  // Decode every frame once (grey, working size): the raw runs compute flow on exactly these.
  auto load = [&](const std::filesystem::path& l) {
    std::vector<std::vector<cv::Mat>> videos;
    for (const auto& e : mme::read_dataset_list(l, root)) {
      mme::VideoReaderOptions o;
      o.format = mme::PixelFormat::gray8;
      o.short_side = short_side;
      mme::VideoReader r(e.path, o);
      std::vector<cv::Mat> frames;
      mme::Frame f;
      while (r.read(f)) frames.push_back(cv::Mat(f.height, f.width, CV_8UC1, f.pixels.data()).clone());
      videos.push_back(std::move(frames));
    }
    return videos;
  };
  // Decoding alone is timed too (one thread): flowgen must decode every frame that raw `calc`
  // gets for free, so raw x decode / (raw + decode) bounds end to end from above on the same cores.
  const auto decode_start = Clock::now();
  const auto all_videos = load(list);
  const double decode_seconds = since(decode_start);
  const auto slow_videos = slow_list.empty() ? all_videos : load(slow_list);
  auto pairs_of = [](const std::vector<std::vector<cv::Mat>>& videos) {
    std::vector<Pair> p;
    for (const auto& v : videos)
      for (std::size_t i = 1; i < v.size(); ++i) p.push_back({&v[i - 1], &v[i]});
    return p;
  };

  std::size_t decoded_pairs = 0;
  for (const auto& v : all_videos) decoded_pairs += v.empty() ? 0 : v.size() - 1;
  const double decode_rate = decoded_pairs / decode_seconds;  // pairs per second and thread
  fmt::print("Decoding alone (grey, working size, one thread): {:.1f} pairs/s.\n\n", decode_rate);
  fmt::print(
      "| algorithm | threads | pairs | raw OpenCV pairs/s | flowgen end to end pairs/s | end to end / raw "
      "| ceiling with decoding |\n");
  fmt::print("|---|---|---|---|---|---|---|\n");
  std::map<std::string, std::vector<cv::Mat>> sample_flows;
  std::map<std::pair<std::string, int>, double> e2e_rate;
  for (const auto& algo : split(algos)) {
    const auto& info = flowgen::flow_backend(algo);
    const auto pairs = pairs_of(info.slow ? slow_videos : all_videos);
    for (const auto& t : split(threads_list)) {
      const int threads = std::stoi(t);
      tbb::global_control limit(tbb::global_control::max_allowed_parallelism, static_cast<std::size_t>(threads));
      tbb::enumerable_thread_specific<std::unique_ptr<flowgen::FlowBackend>> backends;
      std::vector<cv::Mat> flows(std::min<std::size_t>(pairs.size(), static_cast<std::size_t>(codec_pairs)));
      mme::FrameMotion none;
      const auto t0 = Clock::now();
      tbb::parallel_for(std::size_t{0}, pairs.size(), [&](std::size_t i) {
        auto& b = backends.local();
        if (!b) b = info.make();
        cv::Mat flow;
        b->compute({*pairs[i].prev, *pairs[i].next, none, 1}, flow);
        const std::size_t stride = std::max<std::size_t>(1, pairs.size() / flows.size());
        if (i % stride == 0 && i / stride < flows.size()) flows[i / stride] = flow;
      });
      const double raw = pairs.size() / since(t0);
      if (threads == 1) sample_flows[algo] = flows;

      flowgen::RunOptions o;
      o.list = info.slow && !slow_list.empty() ? std::filesystem::path(slow_list) : list;
      o.root = root;
      o.out = work / fmt::format("{}-{}", algo, threads);
      std::filesystem::remove_all(o.out);
      o.threads = threads;
      o.settings.algo = algo;
      o.settings.short_side = short_side;
      const auto t1 = Clock::now();
      const int rc = flowgen::run_flowgen(o);
      const double e2e = pairs.size() / since(t1);
      std::filesystem::remove_all(o.out);
      if (rc != 0) fmt::print(stderr, "flowgen exited {} for {}\n", rc, algo);
      e2e_rate[{algo, threads}] = e2e;
      // Per thread: raw / threads pairs/s of flow, decode_rate pairs/s of decoding.
      const double per_thread = raw / threads, ceiling = decode_rate / (per_thread + decode_rate);
      fmt::print("| {} | {} | {} | {:.1f} | {:.1f} | {:.0f}% | {:.0f}% |\n", algo, threads, pairs.size(), raw, e2e,
                 100 * e2e / raw, 100 * ceiling);
      std::fflush(stdout);
    }
  }
  fmt::print("\n| algorithm | 2 threads / 1 thread (end to end) |\n|---|---|\n");
  for (const auto& algo : split(algos))
    if (e2e_rate.count({algo, 1}) && e2e_rate.count({algo, 2}))
      fmt::print("| {} | {:.2f}x |\n", algo, e2e_rate[{algo, 2}] / e2e_rate[{algo, 1}]);

  fmt::print("\n| algorithm | encoding | bytes/pair | RMS error px | encode ms/pair |\n|---|---|---|---|---|\n");
  for (const auto& [algo, flows] : sample_flows) {
    struct Row {
      std::string name;
      double bytes = 0, err = 0, ms = 0;
    };
    std::vector<Row> rows;
    // Codecs are made per flow field: videos differ in size.
    using Factory = std::function<std::shared_ptr<const mme::ChunkCodec>(const cv::Mat&)>;
    auto int16_codec = [&](const std::string& name, double step, const Factory& make) {
      Row r{name};
      for (const auto& f : flows) {
        const auto codec = make(f);
        std::vector<std::int16_t> q(f.total() * 2);
        const auto t0 = Clock::now();
        flowgen::quantize_flow(f, step, q.data());
        const auto enc = codec->encode(q.data(), q.size() * 2, 2);
        r.ms += since(t0) * 1e3;
        r.bytes += enc.size();
        r.err += rms(flowgen::dequantize_flow(q.data(), f.rows, f.cols, step), f);
      }
      rows.push_back(r);
    };
    auto chunk = [](const cv::Mat& f) {
      return std::vector<std::uint64_t>{1, static_cast<std::uint64_t>(f.rows), static_cast<std::uint64_t>(f.cols), 2};
    };
    auto deflate = [](int level) { return [level](const cv::Mat&) { return mme::deflate_codec(level, true); }; };
    auto loco = [&](const cv::Mat& f) { return mme::loco_codec(chunk(f)); };
    int16_codec("int16 1/8 px, shuffle+deflate-4", 0.125, deflate(4));
    int16_codec("int16 1/8 px, shuffle+deflate-1", 0.125, deflate(1));
    int16_codec("int16 1/16 px, shuffle+deflate-4", 0.0625, deflate(4));
    int16_codec("int16 1/8 px, LOCO-I + range coder", 0.125, loco);
    int16_codec("int16 1/16 px, LOCO-I + range coder", 0.0625, loco);
    for (int quality : {90, 95}) {
      Row r{fmt::format("JPEG q{} (+-20 px -> 0..255, one per component)", quality)};
      for (const auto& f : flows) {
        cv::Mat back;
        const auto t0 = Clock::now();
        r.bytes += jpeg_flow(f, 20.f, quality, back);
        r.ms += since(t0) * 1e3;
        r.err += rms(back, f);
      }
      rows.push_back(r);
    }
    for (const auto& r : rows)
      fmt::print("| {} | {} | {:.0f} | {:.3f} | {:.2f} |\n", algo, r.name, r.bytes / flows.size(), r.err / flows.size(),
                 r.ms / flows.size());
  }
  return 0;
}
