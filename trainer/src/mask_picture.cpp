#include <mme/png.h>
#include <trainer/clip_dataset.h>
#include <trainer/clip_loader.h>
#include <trainer/mask_generator.h>
#include <trainer/mask_picture.h>

#include <mme/log.h>

#include <algorithm>

namespace trainer {

std::vector<std::string> write_mask_picture(const TrainConfig& config, const std::filesystem::path& png) {
  const bool targets = !config.data.target_dir.empty();
  std::vector<std::string> types;
  ClipNeeds needs;  // of every strategy drawn: one dataset serves them all
  for (const auto& type : mask_types()) {
    auto c = config.mask;
    c.type = type;
    const auto strategy_needs = make_mask_generator(c)->needs();
    needs = needs | strategy_needs;
    if (strategy_needs.any() && !targets) {
      mme::log::warn("{}: needs data.target_dir (trajgen's motion boxes and maps); not drawn", type);
      continue;
    }
    types.push_back(type);
  }
  // Tube first, then the others in registry order.
  std::stable_partition(types.begin(), types.end(), [](const std::string& t) { return t == "tube"; });
  auto settings = config;
  settings.optim.batch = 1;
  settings.data.workers = 1;
  settings.data.prefetch = 1;
  if (!targets) needs = {};
  const ClipDataset dataset(settings, needs);
  const int S = config.model.img_size, P = config.model.patch, slices = config.tokens_t(), side = S / P;
  const int width = slices * (S + 4), height = static_cast<int>(types.size()) * (S + 4);
  std::vector<std::uint8_t> picture(static_cast<std::size_t>(width) * height * 3, 255);
  for (std::size_t row = 0; row < types.size(); ++row) {
    settings.mask.type = types[row];
    const auto masks = make_mask_generator(settings.mask);
    ClipLoader loader(dataset, settings, masks.get(), {}, 0, false);
    const auto batch = loader.next();  // the same clip for every strategy: same seed, same slot
    const auto* frames = batch.frames.data_ptr<std::uint8_t>();
    const bool* mask = batch.mask.data_ptr<bool>();
    const std::array<float, 4> no_box{0, 0, 0, 0};
    const float* box = batch.boxes.defined() ? batch.boxes.data_ptr<float>() : no_box.data();
    for (int t = 0; t < slices; ++t) {
      const auto* frame = frames + static_cast<std::size_t>(t * config.model.tubelet) * S * S * 3;
      for (int y = 0; y < S; ++y)
        for (int x = 0; x < S; ++x) {
          const bool masked = mask[t * side * side + (y / P) * side + x / P];
          const bool edge = x % P == 0 || y % P == 0;
          const bool near_x = std::abs(x - box[0] * P) < 1.5f || std::abs(x - box[2] * P) < 1.5f;
          const bool near_y = std::abs(y - box[1] * P) < 1.5f || std::abs(y - box[3] * P) < 1.5f;
          const bool within_x = x >= box[0] * P && x <= box[2] * P, within_y = y >= box[1] * P && y <= box[3] * P;
          const bool on_box = types[row] == "mofo" && ((near_x && within_y) || (near_y && within_x));
          auto* out = picture.data() + (static_cast<std::size_t>(row * (S + 4) + y) * width + t * (S + 4) + x) * 3;
          for (int c = 0; c < 3; ++c) {
            int v = frame[(static_cast<std::size_t>(y) * S + x) * 3 + c];
            if (masked) v = v / 4 + (edge ? 40 : 20);
            out[c] = static_cast<std::uint8_t>(v);
          }
          if (on_box) out[0] = 255, out[1] = 220, out[2] = 0;
        }
    }
  }
  mme::write_png(png, width, height, picture);
  return types;
}

}  // namespace trainer
