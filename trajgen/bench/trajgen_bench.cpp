// trajgen-bench: trajgen against the time needed only to read and decode the same flow shards
// (its I/O bound), and against flowgen's wall time on the same videos. Prints Markdown.
#include <mme/cli.h>
#include <mme/host_allocator.h>
#include <mme/log.h>
#include <mme/part_store.h>
#include <mme/shard_store.h>
#include <trajgen/run.h>

#include <fmt/format.h>
#include <tbb/global_control.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <numeric>

namespace {
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}
struct ReadOnly {
  double seconds = 0, mv_seconds = 0;
  std::int64_t pairs = 0;
};

// What trajgen reads, read and decoded once, decoding in parallel: every flow chunk, and the codec
// motion vectors of the frames that have them, where flowgen stored them (trajgen's motion map).
// The vectors are timed apart, so the flow-only bound shows too.
ReadOnly read_only(const std::filesystem::path& flow_dir, const std::map<std::string, std::string>& videos) {
  ReadOnly r;
  const auto t0 = Clock::now();
  std::map<std::string, std::shared_ptr<mme::ShardReader>> readers;
  for (const auto& [id, file] : videos) {
    auto& reader = readers[file];
    if (!reader) reader = std::make_shared<mme::ShardReader>(flow_dir / file);
    const auto video = reader->video(id);
    auto ds = video.dataset(mme::schema::flow::flow);
    const auto pairs = ds.info().shape[0];
    r.pairs += static_cast<std::int64_t>(pairs);
    // Chunks read serially (HDF5 is), decoded in parallel, as trajgen does.
    const auto read_and_decode = [](const mme::DatasetReader& d, const std::vector<std::uint64_t>& first) {
      const auto chunks = d.read_encoded_chunks(first);
      tbb::parallel_for(std::size_t{0}, chunks.size(), [&](std::size_t i) { (void)d.decode_chunk(chunks[i]); });
    };
    std::vector<std::uint64_t> all(pairs);
    std::iota(all.begin(), all.end(), std::uint64_t{0});
    read_and_decode(ds, all);
    if (video.has_dataset(mme::schema::flow::mv) && video.has_dataset(mme::schema::flow::mv_present)) {
      const auto t_mv = Clock::now();
      const auto present = video.dataset(mme::schema::flow::mv_present).read<std::uint8_t>();
      std::vector<std::uint64_t> with;
      for (std::uint64_t t = 0; t < present.size(); ++t)
        if (present[t]) with.push_back(t);
      read_and_decode(video.dataset(mme::schema::flow::mv), with);
      r.mv_seconds += since(t_mv);
    }
  }
  r.seconds = since(t0);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Benchmark trajgen against reading its flow shards", "trajgen-bench"};
  std::filesystem::path flow_dir, work = "/tmp/trajgen-bench";
  std::string threads_list = "1,2";
  double flowgen_seconds = 0;
  int repeat = 9;
  app.add_option("--flow", flow_dir, "A flowgen output directory")->required()->check(CLI::ExistingDirectory);
  app.add_option("--threads", threads_list, "Thread counts, comma separated")->capture_default_str();
  app.add_option("--flowgen-seconds", flowgen_seconds, "flowgen's wall time on the same videos (for the ratio)");
  app.add_option("--work", work, "Scratch directory")->capture_default_str();
  app.add_option("--repeat", repeat,
                 "Runs of each measurement (alternating): the fastest times, the median ratio of neighbouring runs")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  mme::cli::setup(app, {});
  if (int rc = mme::cli::parse(app, argc, argv); rc >= 0) return rc;
  mme::log::set_level(mme::log::Level::warn);
  mme::keep_freed_memory();  // as trajgen itself does, so that both columns run with it
  const auto videos = mme::scan_videos(flow_dir);

  fmt::print(
      "| threads | starts | read+decode only, s | of which codec vectors, s | trajgen, s | starts/s | seed-steps/s "
      "| trajgen / read-only speed: fastest runs | median of pairs |");
  fmt::print("{}\n|---|---|---|---|---|---|---|---|---|{}\n", flowgen_seconds > 0 ? " trajgen / flowgen wall |" : "",
             flowgen_seconds > 0 ? "---|" : "");
  std::size_t pos = 0;
  while (pos <= threads_list.size()) {
    const auto comma = threads_list.find(',', pos);
    const int threads =
        std::stoi(threads_list.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos));
    pos = comma == std::string::npos ? threads_list.size() + 1 : comma + 1;
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, static_cast<std::size_t>(threads));
    // Both measurements `repeat` times, alternating; the fastest of each, and the median of the
    // ratios of each pair of neighbouring runs. Both ratios are printed: on a noisy machine the
    // fastest runs of each miss the slow spells, but a single lucky run moves them; the median of
    // pairs is robust to a slow spell that hits both runs of a pair, not to one that hits one.
    ReadOnly best;
    double traj_seconds = 0;
    std::vector<double> ratios;
    trajgen::RunOptions o;
    o.flow_dir = flow_dir;
    o.out = work / fmt::format("traj-{}", threads);
    o.threads = threads;
    for (int rep = 0; rep < repeat; ++rep) {
      const auto r = read_only(flow_dir, videos);
      if (rep == 0 || r.seconds < best.seconds) best = r;
      std::filesystem::remove_all(o.out);
      const auto t1 = Clock::now();
      trajgen::run_trajgen(o);
      const double t = since(t1);
      traj_seconds = rep == 0 ? t : std::min(traj_seconds, t);
      ratios.push_back(r.seconds / t);
      std::filesystem::remove_all(o.out);
    }
    const double read_only_seconds = best.seconds;
    std::sort(ratios.begin(), ratios.end());
    const double ratio =
        ratios.size() % 2 ? ratios[ratios.size() / 2] : (ratios[ratios.size() / 2 - 1] + ratios[ratios.size() / 2]) / 2;
    const std::int64_t starts = best.pairs - static_cast<std::int64_t>(videos.size()) * (o.settings.traj_len - 1);
    // Seed-steps from the first video's geometry.
    auto first = mme::ShardReader(flow_dir / videos.begin()->second)
                     .video(videos.begin()->first)
                     .dataset(mme::schema::flow::flow)
                     .info()
                     .shape;
    const double seeds = static_cast<double>(first[1] / 8) * static_cast<double>(first[2] / 8);
    fmt::print("| {} | {} | {:.2f} | {:.2f} | {:.2f} | {:.0f} | {:.3g} | {:.0f}% | {:.0f}% |", threads, starts,
               read_only_seconds, best.mv_seconds, traj_seconds, starts / traj_seconds,
               starts * seeds * o.settings.traj_len / traj_seconds, 100 * read_only_seconds / traj_seconds,
               100 * ratio);
    if (flowgen_seconds > 0) fmt::print(" {:.2f} |", traj_seconds / flowgen_seconds);
    fmt::print("\n");
    std::fflush(stdout);
  }
  return 0;
}
