#include <flowgen/flow_viz.h>
#include <flowgen/quantize.h>
#include <mme/error.h>
#include <mme/jpeg.h>
#include <mme/png.h>
#include <mme/shard_store.h>

#include <cmath>
#include <opencv2/core.hpp>

namespace flowgen {
namespace {

// The Middlebury wheel: 55 hues, more of them between red and yellow, where the eye sees more.
const std::vector<cv::Vec3f>& wheel() {
  static const std::vector<cv::Vec3f> colors = [] {
    std::vector<cv::Vec3f> c;  // RGB in 0..1
    const int RY = 15, YG = 6, GC = 4, CB = 11, BM = 13, MR = 6;
    for (int i = 0; i < RY; ++i) c.emplace_back(1, float(i) / RY, 0);
    for (int i = 0; i < YG; ++i) c.emplace_back(1 - float(i) / YG, 1, 0);
    for (int i = 0; i < GC; ++i) c.emplace_back(0, 1, float(i) / GC);
    for (int i = 0; i < CB; ++i) c.emplace_back(0, 1 - float(i) / CB, 1);
    for (int i = 0; i < BM; ++i) c.emplace_back(float(i) / BM, 0, 1);
    for (int i = 0; i < MR; ++i) c.emplace_back(1, 0, 1 - float(i) / MR);
    return c;
  }();
  return colors;
}

cv::Vec3b color_of(float u, float v) {
  const auto& c = wheel();
  const int n = static_cast<int>(c.size());
  const float rad = std::sqrt(u * u + v * v);
  const float a = std::atan2(-v, -u) / static_cast<float>(CV_PI);
  const float fk = (a + 1) / 2 * (n - 1);
  const int k0 = static_cast<int>(std::floor(fk)) % n, k1 = (k0 + 1) % n;
  const float f = fk - std::floor(fk);
  cv::Vec3b out;
  for (int ch = 0; ch < 3; ++ch) {
    float col = (1 - f) * c[k0][ch] + f * c[k1][ch];
    col = rad <= 1 ? 1 - rad * (1 - col) : col * 0.75f;  // out of range: darker
    out[ch] = static_cast<std::uint8_t>(std::lround(255 * col));
  }
  return out;
}

void write_rgb_png(const std::filesystem::path& file, const cv::Mat& rgb) {
  CV_Assert(rgb.type() == CV_8UC3 && rgb.isContinuous());
  mme::write_png(file, rgb.cols, rgb.rows, std::vector<std::uint8_t>(rgb.datastart, rgb.dataend));
}

}  // namespace

cv::Mat flow_to_color(const cv::Mat& flow, float max_magnitude) {
  CV_Assert(flow.type() == CV_32FC2);
  float maxrad = max_magnitude;
  if (maxrad <= 0) {
    for (int y = 0; y < flow.rows; ++y)
      for (int x = 0; x < flow.cols; ++x) {
        const auto f = flow.at<cv::Vec2f>(y, x);
        if (std::isfinite(f[0]) && std::isfinite(f[1])) maxrad = std::max(maxrad, std::hypot(f[0], f[1]));
      }
  }
  maxrad = std::max(maxrad, 1e-6f);
  cv::Mat out(flow.size(), CV_8UC3);
  for (int y = 0; y < flow.rows; ++y)
    for (int x = 0; x < flow.cols; ++x) {
      const auto f = flow.at<cv::Vec2f>(y, x);
      out.at<cv::Vec3b>(y, x) =
          std::isfinite(f[0]) && std::isfinite(f[1]) ? color_of(f[0] / maxrad, f[1] / maxrad) : cv::Vec3b(0, 0, 0);
    }
  return out;
}

cv::Mat color_wheel(int size) {
  cv::Mat flow(size, size, CV_32FC2);
  const float c = (size - 1) / 2.0f;
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x) flow.at<cv::Vec2f>(y, x) = {(x - c) / c, (y - c) / c};
  return flow_to_color(flow, 1.0f);
}

VizResult write_flow_pictures(const std::filesystem::path& part, const std::string& video_id,
                              const std::filesystem::path& out_dir, int rows, float max_magnitude) {
  mme::ShardReader reader(part);
  auto video = reader.video(video_id);
  auto flow_ds = video.dataset(mme::schema::flow::flow);
  const double scale = flow_ds.get(mme::schema::dataset::scale);
  const auto& shape = flow_ds.info().shape;
  const auto pairs = shape[0];
  const int h = static_cast<int>(shape[1]), w = static_cast<int>(shape[2]);
  if (pairs == 0) throw mme::FileError(part, "video '" + video_id + "' has no flow pairs");
  auto read_flow = [&](std::uint64_t k) {
    const auto q = flow_ds.read_slab<std::int16_t>({k, 0, 0, 0}, {1, shape[1], shape[2], 2});
    return dequantize_flow(q.data(), h, w, scale);
  };
  std::vector<std::int64_t> offsets;
  std::optional<mme::DatasetReader> frames;
  if (video.has_dataset(mme::schema::flow::frames)) {
    frames.emplace(video.dataset(mme::schema::flow::frames));
    offsets = video.dataset(mme::schema::flow::frame_offsets).read<std::int64_t>();
  }
  auto read_frame = [&](std::uint64_t k) -> cv::Mat {
    if (!frames) return cv::Mat(h, w, CV_8UC3, cv::Scalar::all(40));
    const auto bytes = frames->read_slab<std::uint8_t>({static_cast<std::uint64_t>(offsets[k])},
                                                       {static_cast<std::uint64_t>(offsets[k + 1] - offsets[k])});
    try {
      auto rgb = mme::decode_jpeg(bytes.data(), bytes.size());
      return cv::Mat(rgb.height, rgb.width, CV_8UC3, rgb.pixels.data()).clone();
    } catch (const std::runtime_error& e) {
      throw mme::FileError(part, "undecodable JPEG frame " + std::to_string(k) + " of " + video_id + ": " + e.what());
    }
  };

  std::string name = video_id;
  for (char& c : name)
    if (c == '/' || c == ' ' || c == '\\') c = '_';
  std::filesystem::create_directories(out_dir);
  VizResult result{out_dir / (name + "-flow.png"), out_dir / (name + "-strip.png")};

  const cv::Mat middle = read_flow(pairs / 2);
  cv::Mat flow_img = flow_to_color(middle, max_magnitude);
  // Legend: the colour wheel in the corner.
  const int legend = std::max(16, std::min(h, w) / 5);
  color_wheel(legend).copyTo(flow_img(cv::Rect(w - legend, h - legend, legend, legend)));
  write_rgb_png(result.flow_png, flow_img);

  // A common magnitude scale over the strip so rows compare.
  std::vector<cv::Mat> row_images;
  const int n = static_cast<int>(std::min<std::uint64_t>(std::max(1, rows), pairs));
  std::vector<cv::Mat> flows;
  float strip_max = max_magnitude;
  for (int r = 0; r < n; ++r) {
    const std::uint64_t k = n == 1 ? pairs / 2 : static_cast<std::uint64_t>(r) * (pairs - 1) / (n - 1);
    flows.push_back(read_flow(k));
    if (max_magnitude <= 0) {
      cv::Mat mag;
      std::vector<cv::Mat> ch;
      cv::split(flows.back(), ch);
      cv::magnitude(ch[0], ch[1], mag);
      double mx = 0;
      cv::minMaxLoc(mag, nullptr, &mx);
      strip_max = std::max(strip_max, static_cast<float>(mx));
    }
    row_images.push_back(read_frame(k));
  }
  std::vector<cv::Mat> rows_out;
  for (int r = 0; r < n; ++r) {
    cv::Mat row;
    cv::hconcat(row_images[r], flow_to_color(flows[r], strip_max), row);
    rows_out.push_back(row);
  }
  cv::Mat strip;
  cv::vconcat(rows_out, strip);
  write_rgb_png(result.strip_png, strip);
  return result;
}

}  // namespace flowgen
