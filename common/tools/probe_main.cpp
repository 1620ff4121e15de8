// mme-probe: decodes every video of a dataset list and writes what it found into one shard:
// per video its stream facts, per-frame timestamps, picture types and motion-vector flags, and a
// thumbnail. It answers "which of my videos will flowgen choke on?" before a long run, and it is
// the first step of the demo. Failures are listed with their reason; the batch goes on.
#include <mme/atomic_file.h>
#include <mme/batch.h>
#include <mme/cli.h>
#include <mme/dataset_list.h>
#include <mme/json_file.h>
#include <mme/log.h>
#include <mme/progress.h>
#include <mme/shard_store.h>
#include <mme/video_attributes.h>
#include <mme/video_reader.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <mutex>
#include <thread>

namespace {

struct Settings {
  std::filesystem::path list, root = ".", out;
  std::string shard = "0/1";
  int thumbnail_side = 96;
  bool motion_vectors = false;
  int threads = 0;
};

struct Outcome {
  std::string id;
  bool ok = false;
  std::string reason;
  std::int64_t frames = 0;
  double fps = 0;
  int native_width = 0, native_height = 0;
  std::string codec;
  std::vector<std::string> warnings;
};

// Decodes one video and writes its group. Throws FileError for an unreadable video.
Outcome probe_one(const mme::ListEntry& entry, const Settings& s, mme::ShardWriter& shard) {
  mme::VideoReaderOptions options;
  options.format = mme::PixelFormat::rgb24;
  options.short_side = s.thumbnail_side;
  options.motion_vectors = s.motion_vectors;
  mme::VideoReader reader(entry.path, options);
  const auto source = mme::SourceStat::of(entry.path);
  std::vector<double> times;
  std::vector<std::uint8_t> types, has_mv;
  mme::Frame frame;
  // The thumbnail is the middle frame as announced (or the last one if fewer decode); only that
  // one frame is kept, so hour-long videos cost no memory.
  const std::int64_t middle = std::max<std::int64_t>(0, reader.info().frame_count / 2);
  std::vector<std::uint8_t> thumbnail;
  while (reader.read(frame)) {
    times.push_back(frame.time);
    types.push_back(static_cast<std::uint8_t>(frame.picture_type));
    has_mv.push_back(frame.motion.has_vectors ? 1 : 0);
    if (frame.index <= middle) thumbnail = frame.pixels;
  }
  if (times.empty()) {
    std::string why = "no decodable video frames";
    if (!reader.warnings().empty()) why += " (" + reader.warnings().front() + ")";
    throw mme::FileError(entry.path, why);
  }
  const auto& info = reader.info();
  auto group = shard.add_video(entry.id);
  const std::uint64_t n = times.size();
  try {
    mme::write_video_attributes(group, entry, info, source);
    group.set(mme::schema::probe::container, info.container);
    group.set(mme::schema::probe::pixel_format, info.pixel_format);
    group.set(mme::schema::video::frames, static_cast<std::int64_t>(times.size()));
    group.set(mme::schema::video::warnings, static_cast<std::int64_t>(reader.warnings().size()));
    group.write_dataset(mme::schema::probe::timestamps, {mme::DType::f64, {n}, {n}, mme::deflate_codec()},
                        times.data());
    group.write_dataset(mme::schema::probe::picture_type, {mme::DType::u8, {n}, {n}, mme::deflate_codec()},
                        types.data());
    if (s.motion_vectors)
      group.write_dataset(mme::schema::probe::has_motion_vectors, {mme::DType::u8, {n}, {n}, mme::deflate_codec()},
                          has_mv.data());
    const auto h = static_cast<std::uint64_t>(info.height), w = static_cast<std::uint64_t>(info.width);
    group.write_dataset(mme::schema::probe::thumbnail,
                        {mme::DType::u8, {h, w, 3}, {h, w, 3}, mme::deflate_codec(6, false)}, thumbnail.data());
  } catch (...) {
    shard.remove_video(entry.id);  // never publish a half-written group
    throw;
  }
  Outcome out;
  out.id = entry.id;
  out.ok = true;
  out.frames = static_cast<std::int64_t>(n);
  out.fps = info.fps;
  out.native_width = info.native_width;
  out.native_height = info.native_height;
  out.codec = info.codec;
  out.warnings = reader.warnings();
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Decode every video of a dataset list and record what was found (a pre-flight check for flowgen).",
               "mme-probe"};
  Settings s;
  app.add_option("--list", s.list, "Dataset list: one video per line, 'path [label]'")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--root", s.root, "Directory the list's paths are relative to")->capture_default_str();
  app.add_option("--out", s.out, "Output shard (.h5); a report goes next to it as <out>.report.json")->required();
  app.add_option("--shard", s.shard, "Process shard I of N (0-based), e.g. $SLURM_ARRAY_TASK_ID/N")
      ->check(mme::cli::shard_validator())
      ->capture_default_str();
  app.add_option("--thumbnail-side", s.thumbnail_side, "Short side of the stored thumbnails")
      ->check(CLI::Range(16, 4096))
      ->capture_default_str();
  app.add_flag("--mv", s.motion_vectors, "Also record which frames carry codec motion vectors");
  app.add_option("--threads", s.threads, "Videos decoded at once (0: one per core)")->check(CLI::NonNegativeNumber);
  mme::cli::setup(app,
                  {{"mme-probe --list train.txt --root /data/k400 --out probe.h5", "check a whole dataset"},
                   {"mme-probe --list train.txt --out probe-3.h5 --shard 3/16 --mv", "one task of a Slurm array"}});
  if (int rc = mme::cli::parse(app, argc, argv); rc >= 0) return rc;

  std::vector<mme::ListEntry> entries;
  try {
    entries = mme::select_shard(mme::read_dataset_list(s.list, s.root), mme::ShardSpec::parse(s.shard));
  } catch (const std::exception& e) {
    mme::log::error("{}", e.what());
    return mme::cli::kFatal;
  }

  nlohmann::json settings = {{"tool", "mme-probe"},
                             {"list", s.list.string()},
                             {"root", s.root.string()},
                             {"shard", s.shard},
                             {"thumbnail_side", s.thumbnail_side},
                             {"motion_vectors", s.motion_vectors}};
  std::unique_ptr<mme::ShardWriter> shard;
  try {
    shard = std::make_unique<mme::ShardWriter>(s.out, mme::Provenance{"mme-probe", mme::dump_json(settings)});
  } catch (const std::exception& e) {
    mme::log::error("{}", e.what());
    return mme::cli::kFatal;
  }

  std::vector<Outcome> outcomes(entries.size());
  std::atomic<std::size_t> next{0};
  mme::StopRequest stop;  // SIGINT/SIGTERM: the videos in flight end, no new one starts, exit 130
  mme::Progress progress("probe", static_cast<std::int64_t>(entries.size()), "videos");
  const std::size_t frames_counter = progress.add_counter("frames");
  auto worker = [&] {
    for (std::size_t i; !stop.requested() && (i = next++) < entries.size();) {
      try {
        outcomes[i] = probe_one(entries[i], s, *shard);
        for (const auto& w : outcomes[i].warnings) mme::log::warn("{}: {}", entries[i].path.string(), w);
        progress.advance_counter(frames_counter, outcomes[i].frames);
      } catch (const std::exception& e) {
        outcomes[i].id = entries[i].id;
        outcomes[i].reason = fmt::format("{} ({}, line {})", e.what(), s.list.string(), entries[i].line);
        mme::log::error("{}", outcomes[i].reason);
      }
      progress.advance();
    }
  };
  const unsigned n_threads =
      std::max(1u, std::min<unsigned>(s.threads > 0 ? s.threads : std::thread::hardware_concurrency(),
                                      static_cast<unsigned>(std::max<std::size_t>(1, entries.size()))));
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < n_threads; ++t) pool.emplace_back(worker);
  for (auto& t : pool) t.join();
  if (stop.requested()) {
    progress.abandon();
    mme::log::error("interrupted: nothing written (the report and shard are made by a complete run)");
    return mme::cli::kInterrupted;
  }
  progress.finish();

  nlohmann::json report = nlohmann::json::array();
  std::size_t failed = 0;
  for (const auto& o : outcomes) {
    failed += o.ok ? 0 : 1;
    report.push_back(
        {{"id", o.id}, {"ok", o.ok}, {"frames", o.frames}, {"reason", o.reason}, {"warnings", o.warnings}});
  }
  try {
    shard->commit();
    mme::write_atomically(s.out.string() + ".report.json", mme::dump_json(report, 2) + "\n");
  } catch (const std::exception& e) {
    mme::log::error("{}", e.what());
    return mme::cli::kFatal;
  }
  // The results table goes to stdout (logs and progress go to stderr).
  fmt::print("{:<44} {:>7} {:>7} {:>11} {:>9} {:>5} {}\n", "video", "frames", "fps", "native", "codec", "warn",
             "status");
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    const auto& o = outcomes[i];
    std::string id = o.id.size() > 44 ? "..." + o.id.substr(o.id.size() - 41) : o.id;
    if (!o.ok) {
      fmt::print("{:<44} {:>7} {:>7} {:>11} {:>9} {:>5} failed: {}\n", id, "-", "-", "-", "-", "-", o.reason);
      continue;
    }
    fmt::print("{:<44} {:>7} {:>7.2f} {:>11} {:>9} {:>5} ok\n", id, o.frames, o.fps,
               fmt::format("{}x{}", o.native_width, o.native_height), o.codec, o.warnings.size());
  }
  mme::log::info("{} videos probed, {} failed; shard {}", entries.size(), failed, s.out.string());
  return failed ? mme::cli::kSomeFailed : mme::cli::kOk;
}
