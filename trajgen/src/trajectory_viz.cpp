#include <mme/error.h>
#include <mme/jpeg.h>
#include <mme/png.h>
#include <mme/shard_store.h>
#include <trajgen/trajectory_viz.h>

#include <fmt/format.h>

#include <cmath>
#include <opencv2/imgproc.hpp>

namespace trajgen {

void write_trajectory_picture(const std::filesystem::path& target_part, const std::filesystem::path& flow_part,
                              const std::string& id, int start, int zoom, const std::filesystem::path& png) {
  mme::ShardReader targets(target_part), flows(flow_part);
  auto tv = targets.video(id);
  auto fv = flows.video(id);
  auto traj_ds = tv.dataset(mme::schema::target::traj);
  const auto shape = traj_ds.info().shape;  // starts, gh, gw, L, 2
  if (shape[0] == 0) throw mme::FileError(target_part, "video '" + id + "' has no trajectories");
  const auto s = start < 0 ? shape[0] / 2 : std::min<std::uint64_t>(static_cast<std::uint64_t>(start), shape[0] - 1);
  const int gh = static_cast<int>(shape[1]), gw = static_cast<int>(shape[2]), L = static_cast<int>(shape[3]);
  const int cell = static_cast<int>(tv.get(mme::schema::target::cell));
  const double scale = traj_ds.get(mme::schema::dataset::scale);
  const auto traj = traj_ds.read_slab<std::int16_t>({s, 0, 0, 0, 0}, {1, shape[1], shape[2], shape[3], 2});
  const auto valid = tv.dataset(mme::schema::target::valid).read_slab<std::uint8_t>({s, 0, 0}, {1, shape[1], shape[2]});

  // The picture is RGB (libjpeg decodes to it, the PNG writer takes it): the colours below are
  // (r, g, b).
  cv::Mat frame;
  mme::RgbImage rgb;
  if (fv.has_dataset(mme::schema::flow::frames)) {
    const auto offsets = fv.dataset(mme::schema::flow::frame_offsets).read<std::int64_t>();
    const auto bytes = fv.dataset(mme::schema::flow::frames)
                           .read_slab<std::uint8_t>({static_cast<std::uint64_t>(offsets[s])},
                                                    {static_cast<std::uint64_t>(offsets[s + 1] - offsets[s])});
    try {
      rgb = mme::decode_jpeg(bytes.data(), bytes.size());
    } catch (const std::exception& e) {
      throw mme::FileError(flow_part, fmt::format("video '{}', frame {}: {}", id, s, e.what()));
    }
    frame = cv::Mat(rgb.height, rgb.width, CV_8UC3, rgb.pixels.data());
  }
  if (frame.empty()) {  // --frames none: a grey canvas of the flow's size
    const auto fshape = fv.dataset(mme::schema::flow::flow).info().shape;
    frame = cv::Mat(static_cast<int>(fshape[1]), static_cast<int>(fshape[2]), CV_8UC3, cv::Scalar::all(90));
  }
  cv::Mat canvas;
  cv::resize(frame, canvas, cv::Size(), zoom, zoom, cv::INTER_NEAREST);
  canvas = canvas * 0.7;  // dim the frame so the tracks stand out
  const float z = static_cast<float>(zoom);
  for (int i = 0; i < gh; ++i)
    for (int j = 0; j < gw; ++j) {
      cv::Point2f p(cell / 2.0f + cell * j, cell / 2.0f + cell * i);
      std::vector<cv::Point> line{cv::Point(cvRound(p.x * z), cvRound(p.y * z))};
      cv::Point2f total(0, 0);
      for (int k = 0; k < L; ++k) {
        const std::size_t at = ((static_cast<std::size_t>(i) * gw + j) * L + k) * 2;
        const cv::Point2f d(static_cast<float>(traj[at] * scale), static_cast<float>(traj[at + 1] * scale));
        p += d;
        total += d;
        line.emplace_back(cvRound(p.x * z), cvRound(p.y * z));
      }
      cv::Scalar color(140, 140, 140);
      if (valid[static_cast<std::size_t>(i) * gw + j]) {
        // Hue = direction of the whole track; still points stay white.
        const double angle = std::atan2(total.y, total.x) * 180 / CV_PI;
        const double magnitude = std::min(1.0, std::hypot(total.x, total.y) / (0.5 * cell));
        cv::Mat hsv(1, 1, CV_8UC3, cv::Scalar((angle < 0 ? angle + 360 : angle) / 2, 255 * magnitude, 255)), in_rgb;
        cv::cvtColor(hsv, in_rgb, cv::COLOR_HSV2RGB);
        const auto c = in_rgb.at<cv::Vec3b>(0, 0);
        color = cv::Scalar(c[0], c[1], c[2]);
      }
      cv::polylines(canvas, line, false, color, 1, cv::LINE_AA);
      cv::circle(canvas, line.front(), 1, color, cv::FILLED);
    }
  const auto boxes = tv.dataset(mme::schema::target::motion_box).read_slab<float>({s, 0}, {1, 4});
  cv::rectangle(canvas, cv::Point(cvRound(boxes[0] * z), cvRound(boxes[1] * z)),
                cv::Point(cvRound(boxes[2] * z), cvRound(boxes[3] * z)), cv::Scalar(255, 255, 0), 2);  // yellow
  const auto u = tv.get(mme::schema::target::motion_box_union);
  cv::rectangle(canvas, cv::Point(cvRound(u[0] * z), cvRound(u[1] * z)),
                cv::Point(cvRound(u[2] * z), cvRound(u[3] * z)), cv::Scalar(255, 160, 0), 1);  // orange
  std::filesystem::create_directories(png.parent_path().empty() ? "." : png.parent_path());
  CV_Assert(canvas.isContinuous());
  mme::write_png(png, canvas.cols, canvas.rows,
                 std::vector<std::uint8_t>(canvas.data, canvas.data + canvas.total() * canvas.elemSize()));
}

}  // namespace trajgen
