#include <mme/error.h>
#include <mme/jpeg.h>
#include <mme/video_reader.h>

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <cmath>
#include <fstream>

#include "test_support.h"

using Catch::Matchers::ContainsSubstring;
using mme::test::sample;
namespace fs = std::filesystem;

namespace {

double mean_abs_diff(const std::vector<std::uint8_t>& a, const std::string& b) {
  REQUIRE(a.size() == b.size());
  double sum = 0;
  for (std::size_t i = 0; i < a.size(); ++i) sum += std::abs(int(a[i]) - int(static_cast<std::uint8_t>(b[i])));
  return sum / a.size();
}

double mean(const std::vector<std::uint8_t>& a) {
  double s = 0;
  for (auto v : a) s += v;
  return s / a.size();
}

// The first frame as the ffmpeg CLI decodes it (rgb24, autorotated), as raw bytes.
std::string ffmpeg_first_frame(const fs::path& video, const fs::path& out, const std::string& filter = "") {
  mme::test::run_checked("ffmpeg -v error -y -i '" + video.string() + "' " + filter +
                         " -frames:v 1 -f rawvideo -pix_fmt rgb24 '" + out.string() + "'");
  return mme::test::read_file(out);
}

}  // namespace

TEST_CASE("vtest.avi: 795 frames at 768x576, 10 fps", "[video][samples]") {
  mme::VideoReaderOptions o;
  o.format = mme::PixelFormat::gray8;
  mme::VideoReader reader(sample("opencv-doc/vtest.avi"), o);
  const auto& info = reader.info();
  CHECK(info.codec == "msmpeg4v3");
  CHECK(info.native_width == 768);
  CHECK(info.native_height == 576);
  CHECK(info.width == 768);
  CHECK(info.height == 576);
  CHECK(info.fps == 10.0);
  CHECK(info.frame_count == 795);
  CHECK(info.rotation == 0);
  CHECK(info.codec_exports_mvs);
  mme::Frame f;
  std::int64_t n = 0;
  double last_time = -1;
  while (reader.read(f)) {
    CHECK(f.index == n);
    CHECK(f.channels == 1);
    CHECK(f.pixels.size() == 768u * 576u);
    CHECK(f.time > last_time);
    last_time = f.time;
    ++n;
  }
  CHECK(n == 795);
  CHECK(reader.warnings().empty());
  CHECK(std::abs(last_time - 79.4) < 1e-6);
}

TEST_CASE("cup.mp4 and realshort.mp4 decode", "[video][samples]") {
  {
    mme::VideoReader reader(sample("opencv-doc/cup.mp4"));
    CHECK(reader.info().codec == "h264");
    CHECK(reader.info().width == 640);
    CHECK(reader.info().height == 480);
    const auto frames = reader.read_all();
    CHECK(frames.size() == 217);
    CHECK(frames.front().channels == 3);
    CHECK(reader.warnings().empty());
  }
  {
    mme::VideoReader reader(sample("python3-imageio/realshort.mp4"));
    CHECK(reader.info().width == 320);
    CHECK(reader.info().height == 240);
    CHECK(reader.read_all().size() == 36);
  }
}

TEST_CASE("a 4:4:4 H.264 file decodes with the colours the ffmpeg CLI gives", "[video][samples]") {
  mme::test::TempDir dir;
  const auto video = sample("python3-imageio/cockatoo.mp4");
  mme::VideoReader reader(video);
  CHECK(reader.info().pixel_format == "yuv444p");
  mme::Frame f;
  REQUIRE(reader.read(f));
  REQUIRE(f.width == 1280);
  REQUIRE(f.height == 720);
  const auto reference = ffmpeg_first_frame(video, dir / "ref.rgb");
  CHECK(mean_abs_diff(f.pixels, reference) < 1.0);
  // The frame really is in colour (a chroma mix-up would show as grey or swapped channels).
  double r = 0, b = 0;
  for (std::size_t i = 0; i < f.pixels.size(); i += 3) {
    r += f.pixels[i];
    b += f.pixels[i + 2];
  }
  double rr = 0, rb = 0;
  for (std::size_t i = 0; i < reference.size(); i += 3) {
    rr += static_cast<std::uint8_t>(reference[i]);
    rb += static_cast<std::uint8_t>(reference[i + 2]);
  }
  CHECK(std::abs(r - rr) / (f.pixels.size() / 3) < 1.0);
  CHECK(std::abs(b - rb) / (f.pixels.size() / 3) < 1.0);
}

// flowgen's frames: decoded to JPEG's YCbCr at the working size and coded straight from those
// planes. The trainer must see the colours the video has, whatever its matrix and range.
TEST_CASE("yuv420p frames coded as JPEG decode to the colours the ffmpeg CLI gives", "[video][samples]") {
  mme::test::TempDir dir;
  // Saturated colour bars and gradients (testsrc2) show a wrong matrix or range at once: a BT.709
  // video read as BT.601 is off by ~7 levels on average here, limited range read as full by ~10.
  auto made = [&](const std::string& name, const std::string& args) {
    const auto video = dir / name;
    mme::test::run_checked("ffmpeg -v error -y -f lavfi -i testsrc2=size=320x240:rate=10 -frames:v 2 " + args + " '" +
                           video.string() + "'");
    return video;
  };
  const std::vector<std::pair<std::string, fs::path>> videos = {
      {"h264, unspecified matrix (BT.601)", sample("opencv-doc/cup.mp4")},
      {"h264 4:4:4", sample("python3-imageio/cockatoo.mp4")},
      {"cinepak (RGB frames)", sample("opencv-doc/tree.avi")},
      {"BT.709, limited range",
       made("bt709.mp4",
            "-vf scale=out_color_matrix=bt709:out_range=tv -c:v libx264 -crf 12 -pix_fmt yuv420p "
            "-colorspace bt709 -color_primaries bt709 -color_trc bt709 -color_range tv")},
      {"BT.601, full range",
       made("full.mp4",
            "-vf scale=out_color_matrix=bt601:out_range=pc -c:v libx264 -crf 12 -pix_fmt yuvj420p "
            "-colorspace smpte170m -color_range pc")},
      {"BT.2020, limited range",
       made("bt2020.mp4",
            "-vf scale=out_color_matrix=bt2020:out_range=tv -c:v libx264 -crf 12 -pix_fmt yuv420p "
            "-colorspace bt2020nc -color_primaries bt2020 -color_trc bt709 -color_range tv")}};
  // Scaled, and at the native size (swscale's unscaled copy once ignored the range).
  for (const auto& [what, video] : videos)
    for (const int short_side : {120, 0}) {
      INFO(what << ": " << video.string() << ", short side " << short_side);
      mme::VideoReaderOptions o;
      o.format = mme::PixelFormat::yuv420p;
      o.short_side = short_side;
      mme::VideoReader reader(video, o);
      mme::Frame f;
      REQUIRE(reader.read(f));
      const std::size_t luma = static_cast<std::size_t>(f.width) * f.height;
      REQUIRE(f.pixels.size() == luma + 2 * ((f.width + 1) / 2) * ((f.height + 1) / 2));
      const auto jpeg = mme::encode_jpeg_yuv420(f.pixels.data(), f.width, f.height, 95);
      const auto rgb = mme::decode_jpeg(jpeg.data(), jpeg.size());
      REQUIRE(rgb.width == f.width);
      REQUIRE(rgb.height == f.height);
      // swscale's default YUV -> RGB path is biased (about -1.3 levels of luma on cup.mp4 against
      // the exact BT.601 formulas); with full_chroma_int and accurate_rnd it is not (0.01).
      const auto reference =
          ffmpeg_first_frame(video, dir / "ref.rgb",
                             "-vf scale=" + std::to_string(f.width) + ":" + std::to_string(f.height) +
                                 ":flags=area+accurate_rnd+full_chroma_int");
      const double error = mean_abs_diff(rgb.pixels, reference);
      // Per channel means: a matrix or range mix-up shifts them, JPEG's loss does not.
      double bias[3] = {0, 0, 0};
      for (std::size_t i = 0; i < rgb.pixels.size(); ++i)
        bias[i % 3] += int(rgb.pixels[i]) - int(static_cast<std::uint8_t>(reference[i]));
      for (double& b : bias) b /= luma;
      // The luma plane is the grey frame the flow sees: 0.299 R + 0.587 G + 0.114 B of the colours.
      double luma_error = 0;
      for (std::size_t i = 0; i < luma; ++i) {
        const auto* p = reinterpret_cast<const std::uint8_t*>(reference.data()) + 3 * i;
        luma_error += std::abs(f.pixels[i] - (0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2]));
      }
      luma_error /= luma;
      WARN(what << " at " << f.width << "x" << f.height << ": mean |error| " << error << ", luma " << luma_error
                << ", bias R " << bias[0] << " G " << bias[1] << " B " << bias[2]);
      // Thresholds: measured x ~1.3. The colour error is mostly 4:2:0's halved chroma (as in any JPEG
      // or video frame), large on testsrc2's saturated bars (6.2-6.7 at this size), small on real
      // footage (0.9-1.4; cinepak's blocks 3.1). A wrong matrix or range shows in the luma and the
      // biases: BT.709 converted twice gave luma 18 and biases of 2.6.
      // Converting BT.709 or BT.2020 YCbCr to BT.601's moves luma by the (halved) chroma: up to 1.3
      // levels on the bars, 0.2-0.3 where no matrix changes.
      const bool bars = what.starts_with("BT.");
      CHECK(error < (bars ? 8.5 : 4.0));
      CHECK(luma_error < (bars ? 1.7 : 0.5));
      for (double b : bias) CHECK(std::abs(b) < 1.5);
    }
}

TEST_CASE("frames come at the requested short side, aspect kept, even sizes", "[video][samples]") {
  int w = 0, h = 0;
  mme::VideoReaderOptions o;
  o.short_side = 128;
  mme::output_size(320, 240, o, w, h);
  CHECK((w == 170 && h == 128));
  mme::output_size(240, 320, o, w, h);  // portrait
  CHECK((w == 128 && h == 170));
  o.short_side = 0;
  o.max_short_side = 320;
  mme::output_size(768, 576, o, w, h);
  CHECK((w == 426 && h == 320));
  mme::output_size(320, 240, o, w, h);  // already small enough: native size kept
  CHECK((w == 320 && h == 240));
  o.max_short_side = 0;
  o.short_side = 255;  // odd requests round to even
  mme::output_size(640, 480, o, w, h);
  CHECK((w % 2 == 0 && h % 2 == 0));

  // Area resampling keeps the picture's mean; the resized frame matches a downscaled native frame.
  mme::VideoReaderOptions native, small;
  small.short_side = 120;
  mme::VideoReader a(sample("python3-imageio/realshort.mp4"), native),
      b(sample("python3-imageio/realshort.mp4"), small);
  mme::Frame fa, fb;
  REQUIRE(a.read(fa));
  REQUIRE(b.read(fb));
  REQUIRE(fb.width == 160);
  REQUIRE(fb.height == 120);
  CHECK(std::abs(mean(fa.pixels) - mean(fb.pixels)) < 1.0);
  double diff = 0;  // 2x2 box average of the native frame = area resampling by exactly 2
  for (int y = 0; y < 120; ++y)
    for (int x = 0; x < 160; ++x)
      for (int c = 0; c < 3; ++c) {
        auto px = [&](int yy, int xx) { return fa.pixels[(yy * 320 + xx) * 3 + c]; };
        const double box =
            (px(2 * y, 2 * x) + px(2 * y, 2 * x + 1) + px(2 * y + 1, 2 * x) + px(2 * y + 1, 2 * x + 1)) / 4.0;
        diff += std::abs(box - fb.pixels[(y * 160 + x) * 3 + c]);
      }
  CHECK(diff / (160 * 120 * 3) < 1.5);
}

TEST_CASE("frame widths that are not multiples of the SIMD width decode exactly", "[video]") {
  // Regression: swscale's vector writers ran 8 bytes past a tightly packed 200x360 RGB frame and
  // corrupted the heap (found with valgrind on a portrait phone-sized video).
  mme::test::TempDir dir;
  for (const std::string size : {"200x360", "98x66", "322x242", "97x65"}) {
    INFO(size);
    const auto video = dir / ("v" + size + ".mp4");
    mme::test::run_checked("ffmpeg -v error -y -f lavfi -i testsrc2=size=" + size +
                           ":rate=10 -frames:v 3 -c:v libx264 -pix_fmt yuv444p -qp 0 '" + video.string() + "'");
    mme::VideoReader reader(video);
    mme::Frame f;
    REQUIRE(reader.read(f));
    CHECK(f.pixels.size() == static_cast<std::size_t>(f.width) * f.height * 3);
    CHECK(mean_abs_diff(f.pixels, ffmpeg_first_frame(video, dir / "ref.rgb")) < 1.0);
    mme::VideoReaderOptions gray;
    gray.format = mme::PixelFormat::gray8;
    mme::VideoReader g(video, gray);
    CHECK(g.read_all().size() == 3);
  }
}

TEST_CASE("rotation metadata is reported and applied like the ffmpeg CLI does", "[video]") {
  mme::test::TempDir dir;
  for (int rotate : {90, 180, 270}) {
    INFO("rotate=" << rotate);
    const auto video = dir / ("rot" + std::to_string(rotate) + ".mp4");
    const auto upright = dir / "upright.mp4";
    mme::test::run_checked(
        "ffmpeg -v error -y -f lavfi -i testsrc2=size=160x96:rate=10 -frames:v 3 -c:v libx264 "
        "-pix_fmt yuv444p -qp 0 '" +
        upright.string() + "'");
    mme::test::set_rotation(upright, video, rotate);
    mme::VideoReader reader(video);
    // The metadata says "rotate counter-clockwise by r to display"; the CLI turns it upright.
    CHECK(reader.info().rotation == (360 - rotate) % 360);
    CHECK(reader.info().native_width == 160);
    CHECK(reader.info().native_height == 96);
    const bool quarter = rotate != 180;
    CHECK(reader.info().width == (quarter ? 96 : 160));
    CHECK(reader.info().height == (quarter ? 160 : 96));
    mme::Frame f;
    REQUIRE(reader.read(f));
    const auto reference = ffmpeg_first_frame(video, dir / "ref.rgb");
    CHECK(mean_abs_diff(f.pixels, reference) < 2.0);
    mme::VideoReaderOptions stored;
    stored.autorotate = false;
    mme::VideoReader raw(video, stored);
    CHECK(raw.info().rotation == 0);
    CHECK(raw.info().width == 160);
  }
}

TEST_CASE("bad input gives the documented outcome", "[video][samples]") {
  mme::test::TempDir dir;
  SECTION("missing file") {
    CHECK_THROWS_WITH(mme::VideoReader(dir / "nope.mp4"), ContainsSubstring("nope.mp4: no such file"));
  }
  SECTION("zero-byte file") {
    mme::test::write_file(dir / "empty.mp4", "");
    CHECK_THROWS_WITH(mme::VideoReader(dir / "empty.mp4"), ContainsSubstring("empty.mp4: empty file"));
  }
  SECTION("a Y4M header claiming 30000x30000: the reason is the size, not FFmpeg's EBUSY") {
    mme::test::write_file(dir / "big.y4m",
                          "YUV4MPEG2 W30000 H30000 F25:1 Ip A0:0 C420jpeg\nFRAME\n" + std::string(4096, '\x80'));
    CHECK_THROWS_WITH(mme::VideoReader(dir / "big.y4m"),
                      ContainsSubstring("big.y4m: cannot open: ffmpeg: Picture size 30000x30000 is invalid"));
  }
  SECTION("a text file renamed .mp4: FFmpeg's reason is in the message") {
    mme::test::write_file(dir / "notes.mp4", "These are my notes, not a video.\n");
    CHECK_THROWS_WITH(mme::VideoReader(dir / "notes.mp4"),
                      ContainsSubstring("notes.mp4: cannot open") && ContainsSubstring("Invalid data"));
  }
  SECTION("a directory") {
    CHECK_THROWS_WITH(mme::VideoReader(dir.path()), ContainsSubstring("directory"));
  }
  SECTION("audio only") {
    const auto audio = dir / "tone.m4a";
    mme::test::run_checked("ffmpeg -v error -y -f lavfi -i sine=frequency=440:duration=1 -c:a aac '" + audio.string() +
                           "'");
    CHECK_THROWS_WITH(mme::VideoReader(audio), ContainsSubstring("tone.m4a: no video stream (audio only)"));
  }
  SECTION("an AVI truncated at half its size: the decodable frames and a warning") {
    const auto cut = dir / "vtest-half.avi";
    fs::copy_file(sample("opencv-doc/vtest.avi"), cut);
    fs::resize_file(cut, fs::file_size(cut) / 2);
    mme::VideoReaderOptions o;
    o.format = mme::PixelFormat::gray8;
    mme::VideoReader reader(cut, o);
    const auto frames = reader.read_all();
    CHECK(frames.size() > 300);
    CHECK(frames.size() < 500);
    REQUIRE_FALSE(reader.warnings().empty());
    bool says_cut = false;
    for (const auto& w : reader.warnings()) says_cut |= w.find("cut short") != std::string::npos;
    CHECK(says_cut);
  }
  SECTION("an MP4 truncated at half its size loses its index: an error naming the reason") {
    const auto cut = dir / "balle-half.mp4";
    fs::copy_file(sample("python3-mecavideo/balle-jbart.mp4"), cut);
    fs::resize_file(cut, fs::file_size(cut) / 2);
    CHECK_THROWS_WITH(mme::VideoReader(cut),
                      ContainsSubstring("balle-half.mp4") && ContainsSubstring("moov atom not found"));
  }
  SECTION("an MP4 with its index first, truncated: the decodable frames and a warning") {
    const auto full = dir / "faststart.mp4";
    mme::test::run_checked("ffmpeg -v error -y -i '" + sample("python3-mecavideo/balle-jbart.mp4").string() +
                           "' -c copy -movflags +faststart '" + full.string() + "'");
    const auto cut = dir / "faststart-half.mp4";
    fs::copy_file(full, cut);
    fs::resize_file(cut, fs::file_size(cut) / 2);
    mme::VideoReader reader(cut);
    const auto frames = reader.read_all();
    CHECK(frames.size() > 50);
    CHECK(frames.size() < 250);
    CHECK_FALSE(reader.warnings().empty());
  }
  SECTION("a real file with decoder errors (box.mp4) yields its frames and warnings") {
    mme::VideoReader reader(sample("opencv-doc/box.mp4"));
    CHECK(reader.read_all().size() > 400);
    CHECK_FALSE(reader.warnings().empty());
  }
}

TEST_CASE("every clean sample decodes without warnings", "[video][samples]") {
  const auto dir = mme::test::samples_dir();
  std::ifstream list(dir / "list.txt");
  std::string line;
  int videos = 0;
  while (std::getline(list, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto path = dir / line.substr(0, line.find(' '));
    INFO(path);
    mme::VideoReaderOptions o;
    o.format = mme::PixelFormat::gray8;
    o.short_side = 64;
    mme::VideoReader reader(path, o);
    CHECK(reader.read_all().size() >= 16);
    CHECK(reader.warnings().empty());
    CHECK(reader.info().fps > 0);
    ++videos;
  }
  CHECK(videos >= 10);
}
