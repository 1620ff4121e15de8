// trajgen end to end: analytic flow shards, a real ffmpeg-made moving object, reuse, refusal, resume.
#include <mme/loco_filter.h>
#include <mme/shard_store.h>

#include <sys/wait.h>
#include <unistd.h>
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <map>
#include <opencv2/imgcodecs.hpp>

#include "test_support.h"

namespace fs = std::filesystem;
using Catch::Matchers::ContainsSubstring;

namespace {

using Result = mme::test::CommandResult;

Result trajgen_cli(const std::string& args) {
  return mme::test::run_capture(std::string(TRAJGEN_BINARY) + " " + args);
}
Result flowgen_cli(const std::string& args) {
  return mme::test::run_capture(std::string(FLOWGEN_BINARY) + " " + args);
}

mme::test::OutputContent read_targets(const fs::path& out) {
  return mme::test::read_output(out);
}

mme::GroupReader only_video(const fs::path& out, std::unique_ptr<mme::ShardReader>& keep) {
  for (const auto& shard : fs::directory_iterator(out))
    if (shard.is_directory())
      for (const auto& part : fs::directory_iterator(shard.path()))
        if (part.path().extension() == ".h5") {
          keep = std::make_unique<mme::ShardReader>(part.path());
          return keep->video(keep->video_ids().at(0));
        }
  FAIL("no target part in " << out);
  throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("an analytic translation written as a flow shard gives exact trajectories", "[trajgen]") {
  // A translation that changes from pair to pair, over enough pairs for several runs and blocks of
  // trajgen's field-by-field pipeline, so each step must take its own field.
  mme::test::TempDir dir;
  const int pairs = 75, rows = 64, cols = 96;
  const auto u = [](int t) { return 0.5f + 0.125f * static_cast<float>(t % 9); };
  const auto v = [](int t) { return -0.25f - 0.125f * static_cast<float>(t % 5); };
  // Flow shard with the scale attribute flowgen writes.
  {
    fs::create_directories(dir / "flow" / "shard-00000-of-00001");
    std::ofstream(dir / "flow" / "flowgen.json") << R"({"algo": "analytic", "quant_step": 0.125})";
    mme::ShardWriter w(dir / "flow" / "shard-00000-of-00001" / "part-00000.h5", {"test", "{}"});
    auto g = w.add_video("analytic/translation.mp4");
    std::vector<std::int16_t> q(static_cast<std::size_t>(pairs) * rows * cols * 2);
    for (std::size_t i = 0; i < q.size(); i += 2) {
      const int t = static_cast<int>(i / (rows * cols * 2));
      q[i] = static_cast<std::int16_t>(std::lround(u(t) / 0.125));
      q[i + 1] = static_cast<std::int16_t>(std::lround(v(t) / 0.125));
    }
    auto ds = g.create_dataset(
        "flow", {mme::DType::i16, {pairs, rows, cols, 2}, {1, rows, cols, 2}, mme::loco_codec({1, rows, cols, 2})});
    ds.write_all(q.data());
    ds.set("scale", 0.125);
    // A damaged video: its group lost the flow dataset.
    w.add_video("analytic/damaged.mp4").set("fps", 25.0);
    // A corrupt one: the stored bytes of pair 30 are garbage.
    auto corrupt =
        w.add_video("analytic/corrupt.mp4")
            .create_dataset(
                "flow",
                {mme::DType::i16, {pairs, rows, cols, 2}, {1, rows, cols, 2}, mme::loco_codec({1, rows, cols, 2})});
    corrupt.write_all(q.data());
    corrupt.set("scale", 0.125);
    corrupt.write_encoded_chunk({30, 0, 0, 0}, std::vector<std::uint8_t>(100, 0x5a));
    w.commit();
  }
  for (const int L : {4, 20}) {  // 20: longer than a run of fields
    INFO("L = " << L);
    const auto out = dir / ("traj-" + std::to_string(L));
    const auto r = trajgen_cli("-q --traj-len " + std::to_string(L) + " --flow " + (dir / "flow").string() + " --out " +
                               out.string());
    INFO(r.output);
    // The damaged and the corrupt videos are recorded as failed with their reasons (the corrupt
    // one naming its flow pair); the other one is done (exit code 3).
    REQUIRE(r.rc == 3);
    CHECK_THAT(r.output, ContainsSubstring("analytic/damaged.mp4") && ContainsSubstring("dataset 'flow' is missing"));
    CHECK_THAT(r.output, ContainsSubstring("analytic/corrupt.mp4") && ContainsSubstring("flow pair 30: corrupt"));
    CHECK_THAT(mme::test::read_file(out / "shard-00000-of-00001" / "manifest.jsonl"),
               ContainsSubstring("\"status\":\"failed\""));
    std::unique_ptr<mme::ShardReader> keep;
    auto video = only_video(out, keep);
    auto traj_ds = video.dataset("traj");
    const int gh = rows / 8, gw = cols / 8, starts = pairs - L + 1;
    REQUIRE(traj_ds.info().shape ==
            std::vector<std::uint64_t>{static_cast<std::uint64_t>(starts), 8, 12, static_cast<std::uint64_t>(L), 2});
    const double scale = traj_ds.get_double("scale");
    const auto traj = traj_ds.read<std::int16_t>();
    const auto valid = video.dataset("valid").read<std::uint8_t>();
    int wrong = 0, wrong_valid = 0;
    for (int s = 0; s < starts; ++s)
      for (int i = 0; i < gh; ++i)
        for (int j = 0; j < gw; ++j) {
          const std::size_t seed = (static_cast<std::size_t>(s) * gh + i) * gw + j;
          float x = 4 + 8.f * j, y = 4 + 8.f * i;
          for (int k = 0; k < L; ++k) {
            wrong += traj[(seed * L + k) * 2] * scale != u(s + k) || traj[(seed * L + k) * 2 + 1] * scale != v(s + k);
            x += u(s + k);
            y += v(s + k);
          }
          // x only grows and y only falls: the last point decides.
          wrong_valid += valid[seed] != (x >= 0 && x <= cols - 1 && y >= 0 && y <= rows - 1 ? 1 : 0);
        }
    CHECK(wrong == 0);
    CHECK(wrong_valid == 0);
    // Motion map: |(u, v)| of the frame's own flow in every cell, the last frame taking the last
    // flow's; the flow drives it (no codec vectors here).
    const auto motion = video.dataset("motion").read<float>();
    const std::size_t cells = static_cast<std::size_t>(gh) * gw;
    for (int t = 0; t <= pairs; ++t) {
      const int f = std::min(t, pairs - 1);
      CHECK(std::abs(motion[t * cells + 5] - std::hypot(u(f), v(f))) < 0.01);
    }
    CHECK(video.dataset("motion").get_string("source") == "flow");
  }
}

TEST_CASE("an object moving right over a still background: trajectories, MOFO box, motion map", "[trajgen][samples]") {
  mme::test::TempDir dir;
  // Background: a real still frame; object: a textured 64x64 patch of another real video,
  // moving right 3 px a frame.
  mme::test::run_checked("ffmpeg -v error -y -i '" + mme::test::sample("python3-imageio/cockatoo.mp4").string() +
                         "' -frames:v 1 -vf scale=320:240 '" + (dir / "bg.png").string() + "'");
  mme::test::run_checked("ffmpeg -v error -y -ss 2 -i '" + mme::test::sample("opencv-doc/vtest.avi").string() +
                         "' -frames:v 1 -vf crop=64:64:300:200 '" + (dir / "obj.png").string() + "'");
  mme::test::run_checked("ffmpeg -v error -y -loop 1 -framerate 25 -i '" + (dir / "bg.png").string() +
                         "' -loop 1 -framerate 25 -i '" + (dir / "obj.png").string() +
                         "' -filter_complex \"[0][1]overlay=x='40+3*n':y=96\" -frames:v 30 -c:v libx264 -qp 8 "
                         "-pix_fmt yuv420p '" +
                         (dir / "object.mp4").string() + "'");
  std::ofstream(dir / "list.txt") << "object.mp4 0\n";
  auto r = flowgen_cli("-q --list " + (dir / "list.txt").string() + " --root " + dir.path().string() + " --out " +
                       (dir / "flow").string() + " --algo dis-medium --mv");
  INFO(r.output);
  REQUIRE(r.rc == 0);
  r = trajgen_cli("-q --flow " + (dir / "flow").string() + " --out " + (dir / "traj").string());
  INFO(r.output);
  REQUIRE(r.rc == 0);
  std::unique_ptr<mme::ShardReader> keep;
  auto video = only_video(dir / "traj", keep);
  const auto traj_ds = video.dataset("traj");
  const auto traj = traj_ds.read<std::int16_t>();
  const double scale = traj_ds.get_double("scale");
  const auto shape = traj_ds.info().shape;
  const int gh = static_cast<int>(shape[1]), gw = static_cast<int>(shape[2]), L = static_cast<int>(shape[3]);
  REQUIRE(gh == 30);
  REQUIRE(gw == 40);
  // Start frame 10: the object covers x in [70, 134), y in [96, 160).
  const int s = 10;
  double on_x = 0, off = 0;
  int on_n = 0, off_n = 0;
  for (int i = 0; i < gh; ++i)
    for (int j = 0; j < gw; ++j) {
      const float x = 4 + 8.f * j, y = 4 + 8.f * i;
      double dx = 0, dy = 0;
      for (int k = 0; k < L; ++k) {
        const std::size_t at = (((static_cast<std::size_t>(s) * gh + i) * gw + j) * L + k) * 2;
        dx += traj[at] * scale;
        dy += traj[at + 1] * scale;
      }
      const float x0 = 40 + 3.f * s;
      if (x >= x0 + 8 && x < x0 + 56 && y >= 104 && y < 152) {  // well inside the object
        on_x += dx;
        ++on_n;
      } else if (x < x0 - 16 || x > x0 + 80 || y < 80 || y > 176) {  // well away from it
        off += std::hypot(dx, dy);
        ++off_n;
      }
    }
  CHECK(on_n > 20);
  CHECK(std::abs(on_x / on_n - 3.0 * L) < 1.0);  // rightward: 3 px a frame over L steps
  CHECK(off / off_n < 0.5);                      // the background stays still

  // MOFO box of a middle frame overlaps the object (IoU >= 0.5).
  const auto boxes = video.dataset("motion_box").read<float>();
  const int t = 12;
  const float bx0 = boxes[t * 4], by0 = boxes[t * 4 + 1], bx1 = boxes[t * 4 + 2], by1 = boxes[t * 4 + 3];
  const float ox0 = 40 + 3.f * t, oy0 = 96, ox1 = ox0 + 64, oy1 = 160;
  const float iw = std::max(0.f, std::min(bx1, ox1) - std::max(bx0, ox0));
  const float ih = std::max(0.f, std::min(by1, oy1) - std::max(by0, oy0));
  const float inter = iw * ih, uni = (bx1 - bx0) * (by1 - by0) + 64 * 64 - inter;
  INFO("box " << bx0 << "," << by0 << "," << bx1 << "," << by1 << " object " << ox0 << ",96," << ox1 << ",160");
  CHECK(inter / uni >= 0.5);

  // The motion map peaks on the object.
  const auto motion = video.dataset("motion").read<float>();
  int best = 0;
  for (int k = 1; k < gh * gw; ++k)
    if (motion[t * gh * gw + k] > motion[t * gh * gw + best]) best = k;
  const float px = 4 + 8.f * (best % gw), py = 4 + 8.f * (best / gw);
  CHECK(px >= ox0 - 8);
  CHECK(px <= ox1 + 8);
  CHECK(py >= oy0 - 8);
  CHECK(py <= oy1 + 8);

  // The kernels' baseline build (mme/isa.h) writes the same targets, byte for byte; so it does
  // with the motion map from the flow.
  if (mme::isa::supported() == mme::isa::Level::x86_64_v3) {
    for (const std::string source : {"auto", "flow"}) {
      INFO("motion source " << source);
      const auto flags = " --motion-source " + source + " --flow " + (dir / "flow").string() + " --out ";
      r = trajgen_cli("-q" + flags + (dir / ("v3-" + source)).string());
      REQUIRE(r.rc == 0);
      r = mme::test::run_capture("MME_ISA=baseline " + std::string(TRAJGEN_BINARY) + " -q" + flags +
                                 (dir / ("baseline-" + source)).string());
      REQUIRE(r.rc == 0);
      const auto v3 = read_targets(dir / ("v3-" + source)), baseline = read_targets(dir / ("baseline-" + source));
      REQUIRE(v3.size() == 1);
      CHECK(v3 == baseline);
    }
  }
}

TEST_CASE("trajgen --version names the kernels' build, which MME_ISA=baseline sets", "[trajgen][isa]") {
  auto r = trajgen_cli("--version");
  CHECK(r.rc == 0);
  CHECK_THAT(r.output, ContainsSubstring(std::string("kernels built for ") + mme::isa::name(mme::isa::supported())));
  r = mme::test::run_capture("MME_ISA=baseline " + std::string(TRAJGEN_BINARY) + " --version");
  CHECK_THAT(r.output, ContainsSubstring("kernels built for baseline"));
}

TEST_CASE("target directories: reuse, refusal, and resume equal to an uninterrupted run", "[trajgen][samples]") {
  mme::test::TempDir dir;
  const auto samples = mme::test::samples_dir();
  std::ofstream(dir / "list.txt")
      << "python3-mecavideo/g1.avi\npython3-mecavideo/g2.avi\npython3-imageio/realshort.mp4\n";
  REQUIRE(flowgen_cli("-q --list " + (dir / "list.txt").string() + " --root " + samples.string() + " --out " +
                      (dir / "flow").string() + " --algo dis-ultrafast")
              .rc == 0);
  const std::string base = "--flow " + (dir / "flow").string() + " --part-videos 1 --out ";
  REQUIRE(trajgen_cli("-q " + base + (dir / "full").string()).rc == 0);
  const auto full = read_targets(dir / "full");
  REQUIRE(full.size() == 3);

  // trajgen viz draws the targets over the frame (2x zoom by default).
  const auto viz = trajgen_cli("viz " + (dir / "full").string() + " --flow " + (dir / "flow").string() +
                               " --video python3-mecavideo/g1.avi --out " + (dir / "g1.png").string());
  INFO(viz.output);
  REQUIRE(viz.rc == 0);
  const cv::Mat picture = cv::imread((dir / "g1.png").string());
  CHECK(picture.cols == 2 * 400);
  CHECK(picture.rows == 2 * 300);
  // The frame's MOFO box is drawn in yellow: (0, 255, 255) as OpenCV reads it (BGR), which a
  // swap of the PNG's red and blue would turn cyan.
  std::vector<cv::Mat> bgr;
  cv::split(picture, bgr);
  CHECK(cv::countNonZero((bgr[0] == 0) & (bgr[1] == 255) & (bgr[2] == 255)) > 100);
  CHECK(cv::countNonZero((bgr[0] == 255) & (bgr[1] == 255) & (bgr[2] == 0)) == 0);

  // A frame that is not a JPEG: an error naming the flow part, the video and the frame.
  fs::copy(dir / "flow", dir / "flow-bad", fs::copy_options::recursive);
  fs::path bad_part;
  for (const auto& e : fs::recursive_directory_iterator(dir / "flow-bad"))
    if (e.path().extension() == ".h5") bad_part = e.path();
  mme::test::run_checked(mme::test::python() + " -c \"import h5py; f = h5py.File('" + bad_part.string() +
                         "', 'r+'); d = f['videos/python3-mecavideo%2Fg1.avi/frames']; d[...] = 0\"");
  const auto bad = trajgen_cli("viz " + (dir / "full").string() + " --flow " + (dir / "flow-bad").string() +
                               " --video python3-mecavideo/g1.avi --out " + (dir / "bad.png").string());
  CHECK(bad.rc != 0);
  CHECK_THAT(bad.output, ContainsSubstring(bad_part.string()) && ContainsSubstring("python3-mecavideo/g1.avi") &&
                             ContainsSubstring("frame") && ContainsSubstring("JPEG"));
  CHECK_FALSE(fs::exists(dir / "bad.png"));

  // Bit-identical whatever the thread count.
  REQUIRE(trajgen_cli("-q --threads 1 " + base + (dir / "one-thread").string()).rc == 0);
  CHECK(read_targets(dir / "one-thread") == full);

  const auto again = trajgen_cli(base + (dir / "full").string());
  CHECK(again.rc == 0);
  CHECK_THAT(again.output, ContainsSubstring("reused"));

  const auto refused = trajgen_cli(base + (dir / "full").string() + " --traj-len 8");
  CHECK(refused.rc == 1);
  CHECK_THAT(refused.output, ContainsSubstring("traj_len") && ContainsSubstring("4") && ContainsSubstring("8"));

  // A run that lost a part (killed before publishing it) finishes the rest on a re-run.
  fs::copy(dir / "full", dir / "partial", fs::copy_options::recursive);
  fs::remove(dir / "partial" / "shard-00000-of-00001" / "part-00001.h5");
  CHECK(read_targets(dir / "partial").size() == 2);
  REQUIRE(trajgen_cli("-q " + base + (dir / "partial").string()).rc == 0);
  CHECK(read_targets(dir / "partial") == full);
}
