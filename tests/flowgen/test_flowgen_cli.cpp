// flowgen end to end: known motion, determinism, resume after SIGKILL, bad input, refusal.
#include <flowgen/quantize.h>
#include <mme/quantize.h>
#include <mme/shard_store.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <opencv2/imgcodecs.hpp>
#include <random>
#include <thread>

#include "test_support.h"

namespace fs = std::filesystem;
using Catch::Matchers::ContainsSubstring;

namespace {

using Result = mme::test::CommandResult;

Result flowgen_cli(const std::string& args) {
  // A hang (a FIFO opened for reading) fails the test after a minute instead of blocking ctest.
  return mme::test::run_capture("timeout -s KILL 120 " + std::string(FLOWGEN_BINARY) + " " + args);
}

using Content = mme::test::OutputContent;
Content read_content(const fs::path& out) {
  return mme::test::read_output(out);
}

std::map<std::string, nlohmann::json> read_manifest(const fs::path& shard_dir) {
  std::map<std::string, nlohmann::json> m;
  std::ifstream in(shard_dir / "manifest.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    m[j["id"]] = j;
  }
  return m;
}

// The part file of an output directory that holds video `id`.
fs::path part_holding(const fs::path& out, const std::string& id) {
  for (const auto& shard : fs::directory_iterator(out)) {
    if (!shard.is_directory()) continue;
    for (const auto& part : fs::directory_iterator(shard.path()))
      if (part.path().extension() == ".h5" && mme::ShardReader(part.path()).has_video(id)) return part.path();
  }
  FAIL("video " << id << " not found in " << out);
  return {};
}

// Median flow of one video (pixels), all pairs, away from the border. (The median, because
// some algorithms leave textureless regions at zero.)
cv::Vec2d median_flow(const fs::path& out, const std::string& id) {
  mme::ShardReader reader(part_holding(out, id));
  auto ds = reader.video(id).dataset("flow");
  const auto& s = ds.info().shape;
  const auto q = ds.read<std::int16_t>();
  const double scale = ds.get_double("scale");
  std::vector<double> xs, ys;
  for (std::uint64_t t = 0; t < s[0]; ++t)
    for (std::uint64_t y = 16; y + 16 < s[1]; ++y)
      for (std::uint64_t x = 16; x + 16 < s[2]; ++x) {
        const auto i = ((t * s[1] + y) * s[2] + x) * 2;
        xs.push_back(q[i] * scale);
        ys.push_back(q[i + 1] * scale);
      }
  std::nth_element(xs.begin(), xs.begin() + xs.size() / 2, xs.end());
  std::nth_element(ys.begin(), ys.begin() + ys.size() / 2, ys.end());
  return {xs[xs.size() / 2], ys[ys.size() / 2]};
}

// A still real picture panned by ffmpeg's crop: x='2*n' moves the window right 2 px a frame, so
// the content moves LEFT: forward flow (-2, 0) everywhere.
fs::path make_pan(const fs::path& dir, const std::string& codec_args = "-c:v libx264 -bf 0 -qp 10") {
  const auto still = dir / "still.png";
  mme::test::run_checked("ffmpeg -v error -y -i '" + mme::test::sample("python3-imageio/cockatoo.mp4").string() +
                         "' -frames:v 1 -vf scale=640:360 '" + still.string() + "'");
  const auto pan = dir / "pan.mp4";
  mme::test::run_checked("ffmpeg -v error -y -loop 1 -framerate 25 -i '" + still.string() +
                         "' -vf \"crop=340:256:x='100+2*n':y=40\" -frames:v 24 -pix_fmt yuv420p " + codec_args + " '" +
                         pan.string() + "'");
  return pan;
}

void write_list(const fs::path& list, const std::vector<std::string>& lines) {
  std::ofstream out(list);
  for (const auto& l : lines) out << l << "\n";
}

}  // namespace

TEST_CASE("quantisation round-trips within half a step and counts saturation", "[flowgen][quantize]") {
  cv::Mat flow(37, 53, CV_32FC2);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-300.f, 300.f);
  for (int y = 0; y < flow.rows; ++y)
    for (int x = 0; x < flow.cols; ++x) flow.at<cv::Vec2f>(y, x) = {u(rng), u(rng)};
  for (double step : {0.125, 1.0 / 16, 0.25}) {
    std::vector<std::int16_t> q(flow.total() * 2);
    CHECK(flowgen::quantize_flow(flow, step, q.data()) == 0);
    const cv::Mat back = flowgen::dequantize_flow(q.data(), flow.rows, flow.cols, step);
    double worst = 0;
    for (int y = 0; y < flow.rows; ++y)
      for (int x = 0; x < flow.cols; ++x)
        for (int c = 0; c < 2; ++c)
          worst = std::max(worst, double(std::abs(back.at<cv::Vec2f>(y, x)[c] - flow.at<cv::Vec2f>(y, x)[c])));
    CHECK(worst <= step / 2 + 1e-4);
  }
  flow.at<cv::Vec2f>(0, 0) = {5000.f, -5000.f};  // beyond +-4096 px at 1/8 px steps
  flow.at<cv::Vec2f>(1, 0) = {std::nanf(""), 0.f};
  std::vector<std::int16_t> q(flow.total() * 2);
  CHECK(flowgen::quantize_flow(flow, 0.125, q.data()) == 3);
  CHECK(q[0] == 32767);
  CHECK(q[1] == -32768);
  CHECK(q[flow.cols * 2] == 0);

  // Ties to even, as std::nearbyint; saturation at the int16 ends, for huge and infinite values.
  const std::vector<float> v = {0.5f,     1.5f,     2.5f,      -0.5f,     -1.5f, -2.5f,     2.4999998f,
                                32767.4f, 32767.6f, -32768.4f, -32768.6f, 1e30f, -INFINITY, 4194305.f};
  std::vector<std::int16_t> r(v.size());
  CHECK(mme::quantize(v.data(), v.size(), 1.0, r.data()) == 5);
  CHECK(r == std::vector<std::int16_t>{0, 2, 2, 0, -2, -2, 2, 32767, 32767, -32768, -32768, 32767, -32768, 32767});
  // Many values in one call (the vectorised loop) and one by one (its scalar remainder).
  std::uniform_real_distribution<float> wide(-5000.f, 5000.f);
  std::vector<float> xs(100003);
  for (auto& x : xs) x = wide(rng);
  std::vector<std::int16_t> all(xs.size());
  const auto saturated = mme::quantize(xs.data(), xs.size(), 1.0 / 8, all.data());
  std::int64_t expected_saturated = 0;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const float expected = std::clamp(std::nearbyint(xs[i] * 8), -32768.f, 32767.f);
    expected_saturated += std::abs(std::nearbyint(xs[i] * 8)) > 32767.f + (xs[i] < 0);
    std::int16_t one = 0;
    mme::quantize(&xs[i], 1, 1.0 / 8, &one);
    if (all[i] != static_cast<std::int16_t>(expected) || one != all[i])
      FAIL(xs[i] << " -> " << all[i] << " (alone " << one << "), nearbyint gives " << expected);
  }
  CHECK(saturated == expected_saturated);
  CHECK(saturated > 0);
}

TEST_CASE("flowgen measures an ffmpeg-made pan", "[flowgen][samples]") {
  mme::test::TempDir dir;
  make_pan(dir.path());
  write_list(dir / "list.txt", {"pan.mp4 0"});
  // Tolerances from measurements: DIS lands within 0.05 px of the pan; Farneback with the library
  // defaults (MME's public code's choice) underestimates it (median -1.75 px).
  std::vector<std::pair<std::string, double>> algos{{"dis-fast", 0.1}, {"dis-medium", 0.1}, {"farneback", 0.35}};
#ifdef MME_HAVE_TVL1_GPU
  algos.emplace_back("tvl1-gpu", 0.1);  // the LibTorch module, on the CPU here
#endif
  for (const auto& [algo, tolerance] : algos) {
    INFO(algo);
    const auto out = dir / ("out-" + algo);
    const auto r = flowgen_cli("-q --list " + (dir / "list.txt").string() + " --root " + dir.path().string() +
                               " --out " + out.string() + " --algo " + algo);
    INFO(r.output);
    REQUIRE(r.rc == 0);
    const auto m = median_flow(out, "pan.mp4");
    CHECK(std::abs(m[0] - (-2.0)) < tolerance);
    CHECK(std::abs(m[1]) < tolerance);
  }
}

TEST_CASE("a device the machine lacks, or one given to a CPU algorithm, stops the run at once", "[flowgen][samples]") {
  mme::test::TempDir dir;
  make_pan(dir.path());
  write_list(dir / "list.txt", {"pan.mp4 0"});
  const std::string base = "-q --list " + (dir / "list.txt").string() + " --root " + dir.path().string();
  const auto cpu_only = flowgen_cli(base + " --out " + (dir / "a").string() + " --device cuda:0");
  CHECK(cpu_only.rc == 1);
  CHECK_THAT(cpu_only.output, ContainsSubstring("--algo dis-fast runs on the CPU only"));
#ifdef MME_HAVE_TVL1_GPU
  const auto bad = flowgen_cli(base + " --out " + (dir / "b").string() + " --algo tvl1-gpu --device tpu:0");
  CHECK(bad.rc == 1);
  CHECK_THAT(bad.output, ContainsSubstring("--device tpu:0: not a device"));
  // No video was started: nothing lost, nothing half-written.
  CHECK(bad.output.find("videos done") == std::string::npos);
#endif
}

TEST_CASE("a short video's frames fill their chunks: no padding to a whole 256 KiB chunk", "[flowgen][samples]") {
  mme::test::TempDir dir;
  make_pan(dir.path());
  write_list(dir / "list.txt", {"pan.mp4 0"});
  const auto out = dir / "out";
  const auto r = flowgen_cli("-q --list " + (dir / "list.txt").string() + " --root " + dir.path().string() + " --out " +
                             out.string());
  INFO(r.output);
  REQUIRE(r.rc == 0);
  const auto info = mme::ShardReader(part_holding(out, "pan.mp4")).video("pan.mp4").dataset("frames").info();
  const auto bytes = info.shape[0], chunk = info.chunk[0];
  const auto chunks = (bytes + chunk - 1) / chunk;
  INFO(bytes << " bytes of JPEG in " << chunks << " chunks of " << chunk);
  CHECK(chunk <= 262144);
  // Equal chunks, the last one full but for the rounding: less than one byte per chunk short.
  CHECK(chunks * chunk - bytes < chunks);
}

TEST_CASE("codec motion vectors as flow (algo mv) recover a pan's direction", "[flowgen][mv][samples]") {
  mme::test::TempDir dir;
  make_pan(dir.path());
  write_list(dir / "list.txt", {"pan.mp4"});
  const auto out = dir / "out";
  const auto r = flowgen_cli("-q --list " + (dir / "list.txt").string() + " --root " + dir.path().string() + " --out " +
                             out.string() + " --algo mv --mv");
  INFO(r.output);
  REQUIRE(r.rc == 0);
  mme::ShardReader reader(out / "shard-00000-of-00001" / "part-00000.h5");
  auto video = reader.video("pan.mp4");
  const auto present = video.dataset("flow_present").read<std::uint8_t>();
  REQUIRE(present.size() == 23);
  CHECK(present[0] == 1);  // frame 1 is a P-frame: it carries vectors
  const auto mv_present = video.dataset("mv_present").read<std::uint8_t>();
  CHECK(mv_present[0] == 0);  // frame 0 is the I-frame
  const auto m = median_flow(out, "pan.mp4");
  CHECK(std::abs(m[0] - (-2.0)) < 0.3);
  CHECK(std::abs(m[1]) < 0.3);
}

TEST_CASE("flowgen output is bit-identical whatever --threads", "[flowgen][samples]") {
  mme::test::TempDir dir;
  const auto samples = mme::test::samples_dir();
  write_list(dir / "list.txt", {"python3-imageio/realshort.mp4 1", "python3-mecavideo/g1.avi 2",
                                "python3-mecavideo/Principe_inertie.avi 2"});
  Content first;
  for (int threads : {1, 2, 3}) {
    const auto out = dir / ("out" + std::to_string(threads));
    const auto r = flowgen_cli("-q --list " + (dir / "list.txt").string() + " --root " + samples.string() + " --out " +
                               out.string() + " --mv --threads " + std::to_string(threads));
    INFO(r.output);
    REQUIRE(r.rc == 0);
    const auto content = read_content(out);
    REQUIRE(content.size() == 3);
    if (threads == 1)
      first = content;
    else
      CHECK(content == first);
  }
  // One video on two threads decodes with FFmpeg's frame threads: still the same bytes.
  write_list(dir / "one.txt", {"python3-imageio/realshort.mp4 1"});
  Content single;
  for (int threads : {1, 2}) {
    const auto out = dir / ("single" + std::to_string(threads));
    REQUIRE(flowgen_cli("-q --list " + (dir / "one.txt").string() + " --root " + samples.string() + " --out " +
                        out.string() + " --mv --threads " + std::to_string(threads))
                .rc == 0);
    const auto content = read_content(out);
    if (threads == 1)
      single = content;
    else
      CHECK(content == single);
  }
  CHECK(single.at("python3-imageio/realshort.mp4") == first.at("python3-imageio/realshort.mp4"));
}

TEST_CASE("after a SIGKILL only complete videos are visible, and a re-run equals an uninterrupted run",
          "[flowgen][resume][samples]") {
  mme::test::TempDir dir;
  const auto samples = mme::test::samples_dir();
  const std::vector<std::string> videos = {"opencv-doc/Megamind.avi",
                                           "opencv-doc/cup.mp4",
                                           "opencv-doc/tree.avi",
                                           "python3-imageio/realshort.mp4",
                                           "python3-mecavideo/balle-jbart.mp4",
                                           "python3-mecavideo/g1.avi",
                                           "python3-mecavideo/g2.avi"};
  write_list(dir / "list.txt", videos);
  const std::string common = "-q --list " + (dir / "list.txt").string() + " --root " + samples.string() +
                             " --part-videos 1 --threads 2 --algo dis-ultrafast --short-side 128";
  const auto reference = dir / "reference";
  REQUIRE(flowgen_cli(common + " --out " + reference.string()).rc == 0);

  const auto out = dir / "killed";
  const auto shard_dir = out / "shard-00000-of-00001";
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    const std::string cmd = std::string(FLOWGEN_BINARY) + " " + common + " --out " + out.string();
    execl("/bin/sh", "sh", "-c", ("exec " + cmd + " >/dev/null 2>&1").c_str(), nullptr);
    _exit(127);
  }
  // Kill it once at least one part is published, while others are being written.
  int published = 0;
  for (int i = 0; i < 2000 && published == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (fs::exists(shard_dir))
      for (const auto& e : fs::directory_iterator(shard_dir))
        published += e.path().extension() == ".h5" && e.path().filename().string().rfind("part-", 0) == 0 &&
                             e.path().filename().string().find(".tmp-") == std::string::npos
                         ? 1
                         : 0;
  }
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  REQUIRE(published > 0);

  // What is visible is complete: every published part reads, every video in it has all datasets.
  const auto partial = read_content(out);
  const auto full = read_content(reference);
  REQUIRE(full.size() == videos.size());
  CHECK(partial.size() < videos.size());
  for (const auto& [id, datasets] : partial) CHECK(datasets == full.at(id));

  const auto r = flowgen_cli(common + " --out " + out.string());
  INFO(r.output);
  REQUIRE(r.rc == 0);
  CHECK(read_content(out) == full);
  // The manifest lists every video once, all ok.
  const auto manifest = read_manifest(shard_dir);
  CHECK(manifest.size() == videos.size());
  for (const auto& [id, j] : manifest) CHECK(j["status"] == "ok");
  // SIGINT (Ctrl-C, or Slurm's SIGTERM): finished videos are published, exit code 130, and a
  // re-run completes the same content.
  const auto stopped = dir / "interrupted";
  const pid_t runner = fork();
  REQUIRE(runner >= 0);
  if (runner == 0) {
    const std::string cmd = std::string(FLOWGEN_BINARY) + " " + common + " --out " + stopped.string();
    execl("/bin/sh", "sh", "-c", ("exec " + cmd + " >/dev/null 2>&1").c_str(), nullptr);
    _exit(127);
  }
  bool started = false;
  for (int i = 0; i < 2000 && !started; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    started = fs::exists(stopped / "shard-00000-of-00001" / "part-00000.h5");
  }
  // Frozen within 5 ms of its first part, with most of the 7 videos still to do, so the SIGINT
  // lands mid-batch (delivered when it goes on) and the stop path is the one taken.
  kill(runner, SIGSTOP);
  kill(runner, SIGINT);
  kill(runner, SIGCONT);
  int stop_status = 0;
  waitpid(runner, &stop_status, 0);
  REQUIRE(started);
  REQUIRE(WIFEXITED(stop_status));
  CHECK(WEXITSTATUS(stop_status) == 130);
  const auto interrupted = read_content(stopped);
  CHECK(!interrupted.empty());
  CHECK(interrupted.size() < videos.size());
  for (const auto& [id, datasets] : interrupted) CHECK(datasets == full.at(id));
  REQUIRE(flowgen_cli(common + " --out " + stopped.string()).rc == 0);
  CHECK(read_content(stopped) == full);

  // A third run has nothing to do.
  const auto again = flowgen_cli(common + " --out " + out.string());
  CHECK(again.rc == 0);
  CHECK(read_content(out) == full);
}

TEST_CASE("a list mixing good and bad files gives the right manifest and exit code 3", "[flowgen][samples]") {
  mme::test::TempDir dir;
  fs::copy_file(mme::test::sample("python3-imageio/realshort.mp4"), dir / "good.mp4");
  mme::test::write_file(dir / "notes.mp4", "not a video\n");
  mme::test::write_file(dir / "empty.avi", "");
  mme::test::run_checked("ffmpeg -v error -y -f lavfi -i testsrc2=size=64x48:rate=5 -frames:v 1 -c:v libx264 '" +
                         (dir / "one.mp4").string() + "'");
  mme::test::run_checked("ffmpeg -v error -y -f lavfi -i sine=duration=1 -c:a aac '" + (dir / "audio.m4a").string() +
                         "'");
  fs::copy_file(mme::test::sample("python3-mecavideo/balle-jbart.mp4"), dir / "cut.mp4");
  fs::resize_file(dir / "cut.mp4", fs::file_size(dir / "cut.mp4") / 2);
  // Files that are not regular: opening a FIFO for reading blocks until a writer comes (it used
  // to hang flowgen past SIGTERM), a character device reads without end.
  mme::test::run_checked("mkfifo '" + (dir / "fifo.mp4").string() + "'");
  fs::create_symlink("/dev/zero", dir / "zero.mp4");
  fs::create_directory(dir / "folder.mp4");
  write_list(dir / "list.txt", {"good.mp4 0", "notes.mp4 1", "empty.avi 1", "one.mp4 1", "audio.m4a 1", "missing.mp4 1",
                                "cut.mp4 1", "fifo.mp4 1", "zero.mp4 1", "folder.mp4 1"});
  const auto out = dir / "out";
  const auto r = flowgen_cli("--list " + (dir / "list.txt").string() + " --root " + dir.path().string() + " --out " +
                             out.string());
  INFO(r.output);
  CHECK(r.rc == 3);
  CHECK_THAT(r.output, ContainsSubstring("notes.mp4") && ContainsSubstring("audio only"));
  const auto m = read_manifest(out / "shard-00000-of-00001");
  REQUIRE(m.size() == 10);
  CHECK(m.at("good.mp4")["status"] == "ok");
  CHECK(m.at("good.mp4")["pairs"] == 35);
  auto reason = [&](const std::string& id) {
    CHECK(m.at(id)["status"] == "failed");
    return m.at(id)["reason"].get<std::string>();
  };
  CHECK_THAT(reason("notes.mp4"), ContainsSubstring("Invalid data"));
  CHECK_THAT(reason("empty.avi"), ContainsSubstring("empty file"));
  CHECK_THAT(reason("one.mp4"), ContainsSubstring("only one decodable frame"));
  CHECK_THAT(reason("audio.m4a"), ContainsSubstring("audio only"));
  CHECK_THAT(reason("missing.mp4"), ContainsSubstring("no such file"));
  CHECK_THAT(reason("cut.mp4"), ContainsSubstring("moov atom not found"));
  CHECK_THAT(reason("fifo.mp4"), ContainsSubstring("fifo.mp4: is a FIFO (named pipe), not a video"));
  CHECK_THAT(reason("zero.mp4"), ContainsSubstring("zero.mp4: is a character device, not a video"));
  CHECK_THAT(reason("folder.mp4"), ContainsSubstring("folder.mp4: is a directory, not a video"));
  // Only the good video has a group.
  const auto content = read_content(out);
  CHECK(content.size() == 1);
  CHECK(content.count("good.mp4") == 1);

  // --algo mv on a codec without motion vectors fails that video with the reason.
  write_list(dir / "vp9.txt", {mme::test::sample("python3-mecavideo/balle1-vp9.avi").string()});
  const auto rv =
      flowgen_cli("-q --list " + (dir / "vp9.txt").string() + " --out " + (dir / "out-mv").string() + " --algo mv");
  CHECK(rv.rc == 3);
  CHECK_THAT(mme::test::read_file(dir / "out-mv" / "shard-00000-of-00001" / "manifest.jsonl"),
             ContainsSubstring("carries no motion vectors"));
}

TEST_CASE("other settings into an existing output directory are refused", "[flowgen][samples]") {
  mme::test::TempDir dir;
  write_list(dir / "list.txt", {"python3-mecavideo/g1.avi"});
  const std::string base = "-q --list " + (dir / "list.txt").string() + " --root " + mme::test::samples_dir().string() +
                           " --out " + (dir / "out").string();
  REQUIRE(flowgen_cli(base).rc == 0);
  const auto r = flowgen_cli(base + " --algo farneback --quant-step 0.0625");
  CHECK(r.rc == 1);
  CHECK_THAT(r.output, ContainsSubstring("algo") && ContainsSubstring("\"dis-fast\"") &&
                           ContainsSubstring("\"farneback\"") && ContainsSubstring("quant_step"));
  CHECK(flowgen_cli(base).rc == 0);  // the same settings resume (nothing to do)
}

TEST_CASE("shards of a Slurm array cover the list; merge indexes them; viz draws them", "[flowgen][samples]") {
  mme::test::TempDir dir;
  const auto samples = mme::test::samples_dir();
  write_list(dir / "list.txt",
             {"python3-imageio/realshort.mp4 1", "python3-mecavideo/g1.avi 2", "python3-mecavideo/g2.avi 2",
              "python3-mecavideo/Force_constante.avi 2", "python3-mecavideo/Principe_inertie.avi 2"});
  const auto out = dir / "out";
  for (int i = 0; i < 3; ++i) {
    const auto r = flowgen_cli("-q --list " + (dir / "list.txt").string() + " --root " + samples.string() + " --out " +
                               out.string() + " --algo dis-ultrafast --shard " + std::to_string(i) + "/3");
    INFO(r.output);
    REQUIRE(r.rc == 0);
  }
  REQUIRE(flowgen_cli("-q merge " + out.string()).rc == 0);
  std::ifstream in(out / "index.json");
  const auto index = nlohmann::json::parse(in);
  CHECK(index["videos"].size() == 5);
  CHECK(index["settings"]["algo"] == "dis-ultrafast");
  CHECK(read_content(out).size() == 5);

  const auto viz =
      flowgen_cli("viz " + out.string() + " --video python3-mecavideo/g1.avi --out " + (dir / "viz").string());
  INFO(viz.output);
  REQUIRE(viz.rc == 0);
  const cv::Mat strip = cv::imread((dir / "viz" / "python3-mecavideo_g1.avi-strip.png").string());
  REQUIRE_FALSE(strip.empty());
  CHECK(strip.cols == 2 * 400);  // frame | flow
  CHECK(strip.rows == 4 * 300);
  CHECK(fs::exists(dir / "viz" / "python3-mecavideo_g1.avi-flow.png"));
}
