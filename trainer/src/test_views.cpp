#include <trainer/clip_geometry.h>
#include <trainer/test_views.h>

#include <algorithm>
#include <cmath>

namespace trainer {

TestViews test_views(const ClipDataset& dataset, const VideoEntry& video, const TrainConfig& settings, int clips,
                     int crops, const ClipNeeds& needs) {
  const auto& m = settings.model;
  const int S = m.img_size, T = clips, C = crops;
  const int span = (m.frames - 1) * settings.data.stride + 1;
  const int room = std::max(0, video.frames - span);
  const int base = std::min(video.width, video.height);
  TestViews views{torch::empty({T * C, m.frames, S, S, 3}, torch::kUInt8), torch::zeros({T * C, 4})};
  ClipSource source;
  for (int t = 0; t < T; ++t) {
    const int start = T == 1 ? room / 2 : static_cast<int>(std::lround(static_cast<double>(room) * t / (T - 1)));
    std::vector<int> indices(m.frames);
    for (int k = 0; k < m.frames; ++k) indices[k] = std::min(start + k * settings.data.stride, video.frames - 1);
    dataset.read(video, indices, {}, needs, source);
    for (int c = 0; c < C; ++c) {
      const int along = C == 1 ? 1 : c;  // left, centre, right (top, centre, bottom)
      const int slack_x = video.width - base, slack_y = video.height - base;
      const int divisions = C == 1 ? 2 : C - 1;
      const CropBox crop{slack_x * along / divisions, slack_y * along / divisions, base, base, false};
      const int view = t * C + c;
      auto* out = views.frames.data_ptr<std::uint8_t>() + static_cast<std::size_t>(view) * m.frames * S * S * 3;
      for (int k = 0; k < m.frames; ++k)
        crop_resize_rgb(source.frames[k], crop, S, out + static_cast<std::size_t>(k) * S * S * 3);
      if (needs.motion_box) {
        const auto b = crop_box(source.motion_box, crop, S, m.patch);
        for (int k = 0; k < 4; ++k) views.boxes[view][k] = b[k];
      }
    }
  }
  return views;
}

}  // namespace trainer
