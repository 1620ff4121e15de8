// The trainer's parts against hand computations and brute-force references: masks, HOG, trajectory
// normalisation, crop geometry, settings.
#include <torch/torch.h>  // before Catch2: glog's CHECK must not replace Catch2's

#include <trainer/classifier.h>
#include <trainer/clip_geometry.h>
#include <trainer/config.h>
#include <trainer/hog_target.h>
#include <trainer/lr_schedule.h>
#include <trainer/mask_generator.h>
#include <trainer/mgm_mask.h>
#include <trainer/mixup.h>
#include <trainer/model.h>
#include <trainer/mofo_mask.h>
#include <trainer/pixel_target.h>
#include <trainer/rand_augment.h>
#include <trainer/random_erasing.h>
#include <trainer/rng.h>
#include <trainer/torch_file.h>
#include <trainer/trajectory_target.h>
#include <trainer/videomae_io.h>
#include <trainer/world.h>

#include <mme/error.h>

#include <test_support.h>

#include <catch2/catch_approx.hpp>
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <cmath>
#include <numeric>
#include <random>
#include <set>

using Catch::Approx;
using trainer::MaskConfig;
using trainer::MaskContext;
using trainer::Rng;

TEST_CASE("every registered mask gives exactly its masked count, reproducibly, from what it declares",
          "[trainer][mask][registry]") {
  // Whatever the registry holds (a new strategy is tested here without being named): the data it
  // declares are given (a box, motion maps), and it must mask masked_count() tokens, the same ones
  // for the same stream.
  std::vector<std::vector<float>> maps(16, std::vector<float>(196));
  auto noise = Rng(3);
  for (auto& m : maps)
    for (auto& v : m) v = static_cast<float>(noise.uniform01());
  const trainer::ClipMotion motion{&maps, 14, 14, 16, trainer::CropBox{0, 0, 224, 224, false}, 224, 16, 2};
  REQUIRE(trainer::mask_types().size() >= 4);
  for (const auto& type : trainer::mask_types()) {
    INFO(type);
    for (const double ratio : {0.5, 0.9}) {
      const auto masks = trainer::make_mask_generator(MaskConfig{type, ratio});
      CHECK(masks->name() == type);
      MaskContext c{8, 14, 14, {}, nullptr};
      if (masks->needs().motion_box) c.box = {3, 4, 10, 12};
      if (masks->needs().motion_map) c.motion = &motion;
      std::vector<std::uint8_t> a(c.tokens()), b(c.tokens());
      auto r1 = Rng::stream(1, 0, 5), r2 = Rng::stream(1, 0, 5);
      masks->generate(c, r1, a.data());
      masks->generate(c, r2, b.data());
      CHECK(std::accumulate(a.begin(), a.end(), 0) == masks->masked_count(c));
      // The ratio, per slice (tube, MOFO, MGM) or over the clip (random).
      CHECK(masks->masked_count(c) >= static_cast<int>(ratio * 196) * 8);
      CHECK(masks->masked_count(c) <= static_cast<int>(ratio * c.tokens()));
      CHECK(a == b);
    }
  }
}

TEST_CASE("every registered target gives one row of values per token from what it declares",
          "[trainer][target][registry]") {
  auto config = trainer::load_config("", {"model_preset=tiny"});
  torch::manual_seed(2);
  trainer::TargetInput input;
  input.frames = torch::rand({2, 3, 16, 64, 64});
  REQUIRE(trainer::target_names().size() >= 3);
  for (const auto& name : trainer::target_names()) {
    INFO(name);
    const auto target = trainer::make_target(name, config);
    CHECK(target->name() == name);
    if (target->needs().trajectories) {
      const int g = 64 / config.trajectory.cell;
      input.trajectory = torch::randn({2, 8, g, g, config.trajectory.steps, 2});
      input.valid = torch::ones({2, 8, g, g}, torch::kUInt8);
    }
    const auto values = target->compute(input);
    CHECK(values.sizes() == torch::IntArrayRef({2, config.tokens(), target->channels()}));
    CHECK(torch::isfinite(values).all().item<bool>());
  }
}

TEST_CASE("tube masks are identical in every time slice and hit the ratio", "[trainer][mask]") {
  const auto tube = trainer::make_mask_generator(MaskConfig{"tube", 0.9});
  const MaskContext grid{8, 14, 14, {}, nullptr};
  REQUIRE(tube->masked_count(grid) == 176 * 8);  // VideoMAE: 176 of 196 per slice
  std::set<std::vector<std::uint8_t>> distinct;
  for (std::uint64_t clip = 0; clip < 20; ++clip) {
    auto rng = Rng::stream(7, 0, clip);
    std::vector<std::uint8_t> mask(grid.tokens());
    tube->generate(grid, rng, mask.data());
    const std::vector<std::uint8_t> first(mask.begin(), mask.begin() + 196);
    CHECK(std::accumulate(first.begin(), first.end(), 0) == 176);
    for (int t = 1; t < 8; ++t) CHECK(std::equal(first.begin(), first.end(), mask.begin() + t * 196));
    distinct.insert(first);
  }
  CHECK(distinct.size() == 20);  // each clip draws its own

  const auto tube07 = trainer::make_mask_generator(MaskConfig{"tube", 0.7});
  CHECK(tube07->masked_count(grid) == 137 * 8);  // MME's ratio: int(0.7 x 196)
}

TEST_CASE("random masks hit the ratio over all tokens and differ between slices", "[trainer][mask]") {
  const auto random = trainer::make_mask_generator(MaskConfig{"random", 0.9});
  const MaskContext grid{8, 14, 14, {}, nullptr};
  std::vector<std::uint8_t> mask(grid.tokens());
  auto rng = Rng::stream(1, 2, 3);
  random->generate(grid, rng, mask.data());
  CHECK(std::accumulate(mask.begin(), mask.end(), 0) == static_cast<int>(0.9 * 1568));
  CHECK_FALSE(std::equal(mask.begin(), mask.begin() + 196, mask.begin() + 196));
  CHECK_THROWS_WITH(trainer::make_mask_generator(MaskConfig{"nope", 0.9}),
                    Catch::Matchers::ContainsSubstring("unknown mask.type 'nope'"));
}

TEST_CASE("MOFO masks exactly k = min(n, floor(0.75 x inside)) positions inside the box", "[trainer][mask]") {
  const auto mofo = trainer::make_mask_generator(MaskConfig{"mofo", 0.9});
  REQUIRE(mofo->needs().motion_box);
  MaskContext c{8, 14, 14, {}, nullptr};
  struct Case {
    std::array<float, 4> box;
    int inside, k;
  };
  // n = 176 of 196 per slice. A 7 x 7 box: k = floor(36.75) = 36. A box of 13 x 14 = 182: k =
  // min(176, 136) = 136, but only 14 positions are outside, so 162 go inside. Fractional edges
  // count positions by their centre: (5.4, 5.6)-(7.6, 7.5) holds the centres 5.5..7.5 in x and
  // 6.5 in y, so 3 positions and k = 2.
  for (const Case& t :
       {Case{{2, 3, 9, 10}, 49, 36}, Case{{0, 0, 14, 13}, 182, 162}, Case{{5.4f, 5.6f, 7.6f, 7.5f}, 3, 2}}) {
    c.box = t.box;
    REQUIRE(static_cast<int>(trainer::MofoMask::inside(c).size()) == t.inside);
    std::vector<std::uint8_t> inside(196, 0);
    for (int p : trainer::MofoMask::inside(c)) inside[p] = 1;
    for (std::uint64_t clip = 0; clip < 10; ++clip) {
      auto rng = Rng::stream(3, 1, clip);
      std::vector<std::uint8_t> mask(c.tokens());
      mofo->generate(c, rng, mask.data());
      int masked_inside = 0, masked = 0;
      for (int p = 0; p < 196; ++p) {
        masked += mask[p];
        masked_inside += mask[p] && inside[p];
      }
      CHECK(masked == 176);
      CHECK(masked_inside == t.k);
      for (int s = 1; s < 8; ++s) CHECK(std::equal(mask.begin(), mask.begin() + 196, mask.begin() + s * 196));
    }
  }
}

TEST_CASE("MGM masks the positions with the most motion in each slice", "[trainer][mask]") {
  const auto mgm = trainer::make_mask_generator(MaskConfig{"mgm", 0.25});
  REQUIRE(mgm->needs().motion_map);
  MaskContext c{8, 14, 14, {}, nullptr};
  // A 3 x 3 blob of motion moving one token right per slice over small random motion, as the
  // clip's maps: one per frame (two per slice), on a 16-px grid (one cell per token), uncropped.
  std::vector<std::vector<float>> maps(16, std::vector<float>(196));
  auto noise = Rng(5);
  for (int s = 0; s < 8; ++s) {
    std::vector<float> slice(196);
    for (auto& m : slice) m = static_cast<float>(0.2 * noise.uniform01());
    for (int r = 5; r < 8; ++r)
      for (int q = s + 2; q < s + 5; ++q) slice[r * 14 + q] = 3.0f;
    maps[2 * s] = maps[2 * s + 1] = slice;
  }
  const trainer::ClipMotion motion{&maps, 14, 14, 16, trainer::CropBox{0, 0, 224, 224, false}, 224, 16, 2};
  c.motion = &motion;
  // Brought to the tokens: the same values (token centres are the cells' seeds, zoom 1).
  const auto per_token = trainer::MgmMask::token_motion(motion, c);
  REQUIRE(per_token.size() == 8 * 196u);
  CHECK(per_token[3 * 196 + 6 * 14 + 6] == Approx(3.0f));
  CHECK(per_token[3 * 196 + 0] == Approx(maps[6][0]));
  auto rng = Rng(9);
  std::vector<std::uint8_t> mask(c.tokens());
  mgm->generate(c, rng, mask.data());
  for (int s = 0; s < 8; ++s) {
    CHECK(std::accumulate(mask.begin() + s * 196, mask.begin() + (s + 1) * 196, 0) == 49);
    for (int r = 5; r < 8; ++r)
      for (int q = s + 2; q < s + 5; ++q) CHECK(mask[s * 196 + r * 14 + q] == 1);
  }
  // No motion at all: random positions, still 49 per slice, different in each slice.
  for (auto& m : maps) std::fill(m.begin(), m.end(), 0.0f);
  mgm->generate(c, rng, mask.data());
  CHECK(std::accumulate(mask.begin(), mask.begin() + 196, 0) == 49);
  CHECK_FALSE(std::equal(mask.begin(), mask.begin() + 196, mask.begin() + 196));
}

namespace {

// HOG by the definition, one pixel at a time.
std::vector<double> brute_force_hog(const torch::Tensor& image) {
  const int C = image.size(0), H = image.size(1), W = image.size(2);
  auto a = image.accessor<float, 3>();
  auto reflect = [](int i, int n) { return i < 0 ? -i : (i >= n ? 2 * n - 2 - i : i); };
  const int gx[3][3] = {{-1, 0, 1}, {-2, 0, 2}, {-1, 0, 1}};
  std::vector<double> out(static_cast<std::size_t>(C) * 9 * (H / 8) * (W / 8), 0.0);
  for (int c = 0; c < C; ++c)
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < W; ++x) {
        double sx = 0, sy = 0;
        for (int dy = -1; dy <= 1; ++dy)
          for (int dx = -1; dx <= 1; ++dx) {
            const double v = a[c][reflect(y + dy, H)][reflect(x + dx, W)];
            sx += gx[dy + 1][dx + 1] * v;
            sy += gx[dx + 1][dy + 1] * v;  // the transposed kernel
          }
        const double magnitude = std::sqrt(sx * sx + sy * sy);
        double angle = std::atan2(sy, sx);
        if (angle < 0) angle += M_PI;
        if (angle >= M_PI) angle -= M_PI;
        const double position = angle / (M_PI / 9) - 0.5;
        const int lower = static_cast<int>(std::floor(position));
        const double upper_share = position - lower;
        const int cell = (y / 8) * (W / 8) + x / 8;
        auto at = [&](int bin) {
          return (static_cast<std::size_t>(c) * 9 + ((bin % 9) + 9) % 9) * (H / 8) * (W / 8) + cell;
        };
        out[at(lower)] += magnitude * (1 - upper_share) / 64;
        out[at(lower + 1)] += magnitude * upper_share / 64;
      }
  return out;
}

}  // namespace

TEST_CASE("HOG on the device matches a brute-force reference", "[trainer][hog]") {
  torch::manual_seed(3);
  // Noise plus a smooth ramp and an edge: every orientation and both bin halves get votes.
  auto image = torch::rand({3, 32, 48}) * 0.3;
  image += torch::linspace(0, 1, 48).reshape({1, 1, 48}) * torch::linspace(1, 0, 32).reshape({1, 32, 1});
  image.slice(2, 20, 30) += 0.5;
  const auto fast = trainer::hog_features(image.unsqueeze(0))[0].flatten();
  const auto reference = brute_force_hog(image);
  REQUIRE(fast.numel() == static_cast<long>(reference.size()));
  double worst = 0, largest = 0;
  for (std::size_t i = 0; i < reference.size(); ++i) {
    worst = std::max(worst, std::abs(fast[i].item<double>() - reference[i]));
    largest = std::max(largest, std::abs(reference[i]));
  }
  CHECK(largest > 0.1);
  CHECK(worst < 1e-5 * largest + 1e-6);
}

TEST_CASE("HOG tokens hold 3 x 9 x 2 x 2 values of the tube's second frame", "[trainer][hog]") {
  auto config = trainer::load_config("", {"model_preset=tiny"});
  trainer::HogTarget hog(config);
  REQUIRE(hog.channels() == 108);
  torch::manual_seed(4);
  trainer::TargetInput input;
  input.frames = torch::rand({2, 3, 16, 64, 64});
  const auto tokens = hog.compute(input);
  REQUIRE(tokens.sizes() == torch::IntArrayRef({2, 8 * 4 * 4, 108}));
  // Token (slice 3, row 1, col 2) of clip 1 is the HOG of frame 7's patch at rows 16..31, cols 32..47.
  const auto features = trainer::hog_features(input.frames.select(2, 7));  // [B, 3, 9, 8, 8]
  const auto expected = features[1].slice(2, 2, 4).slice(3, 4, 6).flatten();
  CHECK(torch::allclose(tokens[1][3 * 16 + 1 * 4 + 2], expected));
}

TEST_CASE("per-patch trajectory standardisation matches a hand computation", "[trainer][trajectory]") {
  // One token (16 px patch, 8 px cells: 2 x 2 points), L = 1. Points in (row, col) order.
  auto traj = torch::zeros({1, 1, 2, 2, 1, 2});
  const float xs[4] = {1, 2, 3, 6}, ys[4] = {5, 5, 5, 9};
  for (int p = 0; p < 4; ++p) {
    traj[0][0][p / 2][p % 2][0][0] = xs[p];
    traj[0][0][p / 2][p % 2][0][1] = ys[p];
  }
  const auto tokens = trainer::trajectory_tokens(traj, 16, 8);
  REQUIRE(tokens.sizes() == torch::IntArrayRef({1, 1, 4, 1, 2}));
  const auto z = trainer::normalise_trajectories(tokens, "patch");
  // x: mean 3, unbiased variance (4 + 1 + 0 + 9) / 3; y: mean 6, variance (1 + 1 + 1 + 9) / 3 = 4.
  const double sx = std::sqrt(14.0 / 3) + 1e-6, sy = 2.0 + 1e-6;
  for (int p = 0; p < 4; ++p) {
    CHECK(z[0][0][p][0][0].item<double>() == Approx((xs[p] - 3) / sx).epsilon(1e-6));
    CHECK(z[0][0][p][0][1].item<double>() == Approx((ys[p] - 6) / sy).epsilon(1e-6));
  }
  // A pure translation leaves nothing (the common motion is removed).
  CHECK(trainer::normalise_trajectories(torch::full({1, 1, 4, 1, 2}, 7.0), "patch").abs().max().item<double>() < 1e-6);
  CHECK(trainer::normalise_trajectories(tokens, "raw20")[0][0][3][0][0].item<double>() == Approx(6.0 / 20));
  // iDT: divided by the sum of the point's step lengths (|(6, 9)| for the last point).
  CHECK(trainer::normalise_trajectories(tokens, "magnitude")[0][0][3][0][1].item<double>() ==
        Approx(9 / std::hypot(6.0, 9.0)));
}

TEST_CASE("trajectory tokens follow the model's token order and count only with a valid point",
          "[trainer][trajectory]") {
  auto config = trainer::load_config("", {"model_preset=tiny", "targets.trajectory=1"});
  trainer::TrajectoryTarget target(config);
  REQUIRE(target.channels() == 4 * 4 * 2);
  trainer::TargetInput input;
  // Value = the point's grid column: token (slice, row, col) holds columns 2 col and 2 col + 1.
  input.trajectory =
      torch::arange(8).to(torch::kFloat32).reshape({1, 1, 1, 8, 1, 1}).expand({2, 8, 8, 8, 4, 2}).contiguous();
  input.valid = torch::ones({2, 8, 8, 8}, torch::kUInt8);
  input.valid[1][2].slice(0, 2, 4).slice(1, 4, 6).zero_();  // token (slice 2, row 1, col 2) of clip 1
  const auto weight = target.weight(input);
  CHECK(weight.sum().item<double>() == 2 * 128 - 1);
  CHECK(weight[1][2 * 16 + 1 * 4 + 2].item<double>() == 0);
  input.valid[1][2][2][4] = 1;  // one valid point is enough
  CHECK(target.weight(input)[1][2 * 16 + 1 * 4 + 2].item<double>() == 1);
  const auto tokens = trainer::trajectory_tokens(input.trajectory, 16, 8);
  CHECK(tokens[0][5].select(-1, 0).select(-1, 0).flatten().equal(torch::tensor({2.0f, 3.0f, 2.0f, 3.0f})));
}

TEST_CASE("pixel targets are each tube's channels normalised by their own mean and std", "[trainer][pixel]") {
  auto config = trainer::load_config("", {"model_preset=tiny"});
  trainer::PixelTarget target(config);
  torch::manual_seed(5);
  trainer::TargetInput input;
  input.frames = torch::rand({1, 3, 16, 64, 64});
  const auto tokens = target.compute(input);  // [1, 128, 1536]
  REQUIRE(tokens.sizes() == torch::IntArrayRef({1, 128, 1536}));
  // Token (slice 1, row 2, col 3): frames 2-3, rows 32..47, cols 48..63; green channel.
  const auto tube = input.frames[0][1].slice(0, 2, 4).slice(1, 32, 48).slice(2, 48, 64).flatten();
  const auto expected = (tube - tube.mean()) / (tube.std(/*unbiased=*/true) + 1e-6);
  const auto got = tokens[0][16 + 2 * 4 + 3].reshape({512, 3}).select(1, 1);
  CHECK(torch::allclose(got, expected, 1e-4, 1e-5));
}

TEST_CASE("the same crop and flip map the trajectory field like the frames", "[trainer][geometry]") {
  // A uniform motion of (2, -1) px per step on a 40 x 30 seed grid (320 x 240 frame, 8 px cells).
  const int gh = 30, gw = 40, L = 4;
  std::vector<float> field(static_cast<std::size_t>(gh) * gw * L * 2);
  for (std::size_t i = 0; i < field.size(); i += 2) {
    field[i] = 2.0f;
    field[i + 1] = -1.0f;
  }
  std::vector<std::uint8_t> valid(gh * gw, 1);
  for (int i = 0; i < gh; ++i) valid[i * gw + gw - 1] = 0;  // the right-most seeds left the frame
  const int S = 224, g = S / 8;
  std::vector<float> out(static_cast<std::size_t>(g) * g * L * 2);
  std::vector<std::uint8_t> out_valid(g * g);
  for (bool flip : {false, true}) {
    const trainer::CropBox crop{80, 48, 160, 192, flip};
    trainer::crop_resize_trajectories(field.data(), valid.data(), gh, gw, L, 8, crop, S, out.data(), out_valid.data());
    // Zoom 224/160 in x, 224/192 in y; the flip mirrors x.
    CHECK(out[0] == Approx(2.0 * 224 / 160 * (flip ? -1 : 1)));
    CHECK(out[1] == Approx(-1.0 * 224 / 192));
  }
  // A crop touching the right edge: the invalid column lands on the last output column, or on the
  // first once flipped; every other seed stays valid.
  for (bool flip : {false, true}) {
    const trainer::CropBox crop{160, 0, 160, 240, flip};
    trainer::crop_resize_trajectories(field.data(), valid.data(), gh, gw, L, 8, crop, S, out.data(), out_valid.data());
    for (int i = 0; i < g; ++i)
      for (int j = 0; j < g; ++j) CHECK(out_valid[i * g + j] == (j == (flip ? 0 : g - 1) ? 0 : 1));
  }
}

TEST_CASE("multi-scale crops use VideoMAE's sizes and positions", "[trainer][geometry]") {
  const std::vector<double> scales{1, 0.875, 0.75, 0.66};
  std::set<int> widths;
  int flipped = 0;
  for (std::uint64_t i = 0; i < 400; ++i) {
    auto rng = Rng::stream(11, 0, i);
    const auto c = trainer::multi_scale_crop(320, 240, scales, 1, 224, true, rng);
    REQUIRE(c.x0 >= 0);
    REQUIRE(c.y0 >= 0);
    REQUIRE(c.x0 + c.width <= 320);
    REQUIRE(c.y0 + c.height <= 240);
    widths.insert(c.width);
    CHECK(std::set<int>{240, 210, 180, 158}.count(c.height));
    CHECK(std::abs(static_cast<int>(std::set<int>{240, 210, 180, 158}.count(c.width)) - 1) == 0);
    flipped += c.flip;
  }
  // Sides int(240 x scale); only a side within 3 px of 224 would snap to 224.
  CHECK(widths == std::set<int>{240, 210, 180, 158});
  CHECK(flipped > 150);
  CHECK(flipped < 250);
}

TEST_CASE("frame indices are stride apart from a random start and clamp in short videos", "[trainer][geometry]") {
  auto rng = Rng(1);
  for (int i = 0; i < 50; ++i) {
    const auto idx = trainer::sample_frame_indices(100, 16, 4, rng);
    REQUIRE(idx.size() == 16);
    CHECK(idx[0] >= 0);
    CHECK(idx[0] <= 100 - 61);
    for (int k = 1; k < 16; ++k) CHECK(idx[k] - idx[k - 1] == 4);
  }
  const auto short_clip = trainer::sample_frame_indices(36, 16, 4, rng);
  CHECK(short_clip[0] == 0);
  CHECK(short_clip[8] == 32);
  CHECK(short_clip[15] == 35);
}

TEST_CASE("settings layer presets, recipes, files and overrides, and name unknown keys", "[trainer][config]") {
  auto videomae = trainer::load_config("", {});
  CHECK(videomae.model.dim == 768);
  CHECK(videomae.mask.ratio == 0.9);
  CHECK(videomae.uses("pixel"));
  CHECK(videomae.tokens() == 1568);
  auto mme = trainer::load_config("", {"recipe=mme", "model_preset=vit-b"});
  CHECK(mme.mask.ratio == 0.7);
  CHECK(mme.uses("trajectory"));
  CHECK(mme.uses("hog"));
  CHECK_FALSE(mme.uses("pixel"));
  CHECK(mme.model.decoder_depth == 1);
  CHECK(mme.model.decoder_dim == 192);
  CHECK(mme.model.head == "mlp");
  auto tuned = trainer::load_config("", {"recipe=mme", "optim.batch=64", "targets.pixel=0.5", "data.scales=[1,0.5]"});
  CHECK(tuned.optim.batch == 64);
  CHECK(tuned.lr() == Approx(1.5e-4 * 64 / 256));
  CHECK(tuned.targets.at("pixel") == 0.5);
  CHECK(tuned.data.scales == std::vector<double>{1, 0.5});
  CHECK_THROWS_WITH(trainer::load_config("", {"optim.btach=64"}),
                    Catch::Matchers::ContainsSubstring("unknown setting 'optim.btach'"));
  CHECK_THROWS_WITH(trainer::load_config("", {"model_preset=huge"}),
                    Catch::Matchers::ContainsSubstring("unknown model preset 'huge'"));
  CHECK_THROWS_WITH(trainer::load_config("", {"model.patch=15"}), Catch::Matchers::ContainsSubstring("model.patch 15"));
  CHECK_THROWS_WITH(trainer::load_config("", {"optim.batch"}), Catch::Matchers::ContainsSubstring("not key=value"));
}

TEST_CASE("the learning rate warms up linearly, then follows a half cosine", "[trainer][schedule]") {
  const trainer::LrSchedule s{1e-3, 1e-5, 10, 110};
  CHECK(s.at(0) == 0);
  CHECK(s.at(5) == Approx(5e-4));
  CHECK(s.at(10) == Approx(1e-3));
  CHECK(s.at(60) == Approx(1e-5 + 0.5 * (1e-3 - 1e-5)));
  CHECK(s.at(110) == Approx(1e-5));
}

TEST_CASE("the model predicts every target for the masked tokens only", "[trainer][model]") {
  auto config = trainer::load_config("", {"model_preset=tiny"});
  torch::manual_seed(0);
  trainer::MaskedVideoModel model(config.model, std::map<std::string, int>{{"pixel", 1536}, {"hog", 108}});
  // Each clip its own mask of 100 of the 128 tokens.
  auto mask = torch::zeros({2, 128}, torch::kBool);
  mask[0].index_put_({torch::randperm(128).slice(0, 0, 100)}, true);
  mask[1].index_put_({torch::randperm(128).slice(0, 0, 100)}, true);
  const auto video = torch::randn({2, 3, 16, 64, 64});
  const auto out = model->forward(video, mask);
  CHECK(out.at("pixel").sizes() == torch::IntArrayRef({2, 100, 1536}));
  CHECK(out.at("hog").sizes() == torch::IntArrayRef({2, 100, 108}));
  CHECK(model->encode(video, mask).sizes() == torch::IntArrayRef({2, 28, 64}));
  // The predictions are those of the masked tokens, in token order: the decoder (no causal mask,
  // positions added to its inputs) computed here with the masked tokens put *first* gives the
  // same values in its first 100 places. Predicting from the visible end fails this.
  {
    torch::NoGradGuard no_grad;
    const auto visible = model->encoder_to_decoder(model->encode(video, mask));
    const auto pos = model->decoder_pos_embed.expand({2, -1, -1});
    const auto D = visible.size(2);
    auto x = torch::cat({model->mask_token + pos.index({mask}).reshape({2, -1, D}),
                         visible + pos.index({mask.logical_not()}).reshape({2, -1, D})},
                        1);
    for (const auto& block : *model->decoder_blocks) x = block->as<trainer::Block>()->forward(x);
    const auto first = model->decoder_norm(x.slice(1, 0, 100));
    CHECK(torch::allclose(out.at("pixel"), model->decoder_heads["pixel"]->as<torch::nn::Sequential>()->forward(first),
                          1e-5, 1e-5));
    CHECK(torch::allclose(out.at("hog"), model->decoder_heads["hog"]->as<torch::nn::Sequential>()->forward(first), 1e-5,
                          1e-5));
  }
  // VideoMAE's key names, for exchanging weights with it.
  const auto params = model->named_parameters();
  for (const char* key :
       {"encoder.patch_embed.proj.weight", "encoder.blocks.0.attn.qkv.weight", "encoder.blocks.0.attn.q_bias",
        "encoder.blocks.1.mlp.fc2.bias", "encoder.norm.weight", "encoder_to_decoder.weight", "mask_token"})
    CHECK(params.contains(key));
  // Sin-cos table: position p, channel 2i is sin(p / 10000^(2i/d)).
  const auto table = trainer::sinusoid_table(10, 8);
  CHECK(table[3][2].item<double>() == Approx(std::sin(3 / std::pow(10000.0, 2.0 / 8))));
  CHECK(table[3][3].item<double>() == Approx(std::cos(3 / std::pow(10000.0, 2.0 / 8))));
}

TEST_CASE("weights written with VideoMAE's names read back into the model, and a wrong shape is refused",
          "[trainer][export]") {
  mme::test::TempDir dir;
  auto config = trainer::load_config("", {"model_preset=tiny"});
  torch::manual_seed(1);
  trainer::MaskedVideoModel a(config.model, std::map<std::string, int>{{"pixel", 1536}});
  trainer::NamedTensors ours;
  for (const auto& p : a->named_parameters()) ours.emplace_back(p.key(), p.value());
  const auto videomae = trainer::to_videomae(ours, /*classifier=*/false);
  std::set<std::string> names;
  for (const auto& t : videomae) names.insert(t.first);
  for (const char* key : {"encoder.blocks.1.attn.qkv.weight", "decoder.blocks.0.mlp.fc1.weight", "decoder.norm.weight",
                          "decoder.head.weight", "encoder_to_decoder.weight", "mask_token"})
    CHECK(names.count(key) == 1);
  trainer::write_state_dict(dir / "pre.pth", videomae, "model");
  torch::manual_seed(2);  // other weights until the import
  trainer::MaskedVideoModel b(config.model, std::map<std::string, int>{{"pixel", 1536}});
  const auto video = torch::randn({2, 3, 16, 64, 64});
  CHECK_FALSE(a->encode(video, {}).equal(b->encode(video, {})));
  const auto weights = trainer::read_foreign_weights(dir / "pre.pth");
  const auto report =
      trainer::set_weights(*b, weights.tensors, dir / "pre.pth", [](const std::string&) { return true; });
  CHECK(report.loaded == static_cast<int>(a->parameters().size()));
  CHECK(report.ignored.empty());
  CHECK(report.fresh.empty());
  CHECK(a->encode(video, {}).equal(b->encode(video, {})));

  // Into a classifier: the encoder (without the final norm VideoMAE's mean pooling has not), while
  // fc_norm and the head stay as initialised; the decoder is listed as ignored.
  trainer::VideoClassifier classifier(config.model, 3, "mean");
  const auto into = trainer::set_weights(*classifier, weights.tensors, dir / "pre.pth",
                                         [](const std::string& n) { return n.rfind("encoder.", 0) == 0; });
  CHECK(into.fresh == std::vector<std::string>{"fc_norm.weight", "fc_norm.bias", "head.weight", "head.bias"});
  CHECK(std::count(into.ignored.begin(), into.ignored.end(), "encoder.norm.weight") == 1);
  CHECK(std::count(into.ignored.begin(), into.ignored.end(), "decoder_blocks.0.attn.qkv.weight") == 1);

  // Another shape is refused, naming the first keys that differ and counting the rest (a ViT's
  // whole list would bury the point), and changes nothing.
  auto wide = trainer::load_config("", {"model_preset=tiny", "model.dim=128"});
  trainer::MaskedVideoModel c(wide.model, std::map<std::string, int>{{"pixel", 1536}});
  const auto before = c->encoder->blocks[0]->as<trainer::Block>()->attn->qkv->weight.clone();
  CHECK_THROWS_WITH(
      trainer::set_weights(*c, weights.tensors, dir / "pre.pth", [](const std::string&) { return true; }),
      Catch::Matchers::ContainsSubstring(
          "encoder.patch_embed.proj.weight is [64, 3, 2, 16, 16] in the file, [128, 3, 2, 16, 16] here") &&
          Catch::Matchers::ContainsSubstring(" more"));
  CHECK(c->encoder->blocks[0]->as<trainer::Block>()->attn->qkv->weight.equal(before));
}

TEST_CASE("a damaged torch.save file is refused with the file's name, whatever the damage", "[trainer][export]") {
  mme::test::TempDir dir;
  torch::manual_seed(3);
  const trainer::NamedTensors tensors{{"blocks.0.attn.qkv.weight", torch::randn({6, 2})},
                                      {"norm.bias", torch::randn({2})}};
  const auto good = trainer::torch_save_bytes(tensors, "model");
  trainer::write_state_dict(dir / "good.pth", tensors, "model");
  const auto read = trainer::read_state_dict(dir / "good.pth");
  REQUIRE(read.tensors.size() == 2);
  CHECK(read.under == "model");
  CHECK(read.tensors[0].second.equal(tensors[0].second));
  // Cut short anywhere, or with bytes overwritten (a deterministic sweep): an error, never a crash
  // or a read outside the file's data.
  std::mt19937 random(5);
  int refused = 0, trials = 0;
  for (std::size_t cut = 0; cut < good.size(); cut += 37) {
    const auto file = dir / "cut.pth";
    mme::test::write_file(file, std::string(good.data(), cut));
    ++trials;
    try {
      trainer::read_state_dict(file);
    } catch (const mme::FileError& e) {
      CHECK_THAT(e.what(), Catch::Matchers::ContainsSubstring("cut.pth"));
      ++refused;
    }
  }
  CHECK(refused == trials);  // a cut zip always lacks its directory
  for (int i = 0; i < 300; ++i) {
    auto bytes = good;
    for (int k = 0; k < 4; ++k) bytes[random() % bytes.size()] = static_cast<char>(random());
    mme::test::write_file(dir / "flipped.pth", std::string(bytes.data(), bytes.size()));
    try {
      const auto r = trainer::read_state_dict(dir / "flipped.pth");
      for (const auto& [name, t] : r.tensors) CHECK(t.numel() <= 12);  // what it holds is bounded by the data
    } catch (const mme::FileError&) {
    }
  }
}

TEST_CASE("MOFO pooling averages the inside tokens after they attend to the outside ones", "[trainer][classifier]") {
  torch::manual_seed(6);
  trainer::MofoPooling pool(8, 2);
  const auto x = torch::randn({2, 6, 8});
  auto inside = torch::zeros({2, 6}, torch::kBool);
  inside[0].slice(0, 1, 3) = true;  // clip 0: tokens 1, 2 inside
  // clip 1: nothing inside -> all tokens pooled
  const auto out = pool->forward(x, inside);
  REQUIRE(out.sizes() == torch::IntArrayRef({2, 8}));
  // Moving an outside token changes clip 0's result (it is a key), a token's own value too.
  auto moved = x.clone();
  moved[0][4] += torch::randn({8});  // (a constant shift would vanish in the LayerNorm)
  CHECK_FALSE(torch::allclose(pool->forward(moved, inside)[0], out[0]));
  // Without the attention's output the result is the plain mean of the inside tokens.
  {
    torch::NoGradGuard no_grad;
    pool->proj->weight.zero_();
    pool->proj->bias.zero_();
  }
  const auto plain = pool->forward(x, inside);
  CHECK(torch::allclose(plain[0], x[0].slice(0, 1, 3).mean(0)));
  CHECK(torch::allclose(plain[1], x[1].mean(0)));
}

TEST_CASE("tokens inside a box are those whose centre it holds, in every slice", "[trainer][classifier]") {
  const auto inside = trainer::tokens_inside(torch::tensor({{1.0f, 0.4f, 3.0f, 2.6f}}), 2, 4, 4);
  REQUIRE(inside.sizes() == torch::IntArrayRef({1, 32}));
  // Columns 1, 2 (centres 1.5, 2.5), rows 0, 1, 2 (centres 0.5, 1.5, 2.5).
  for (int s = 0; s < 2; ++s)
    for (int r = 0; r < 4; ++r)
      for (int c = 0; c < 4; ++c) CHECK(inside[0][s * 16 + r * 4 + c].item<bool>() == (r <= 2 && (c == 1 || c == 2)));
  auto config = trainer::load_config("", {"model_preset=tiny"});
  trainer::VideoClassifier model(config.model, 5, "mean");
  CHECK(model->layer_of("encoder.patch_embed.proj.weight") == 0);
  CHECK(model->layer_of("encoder.blocks.1.attn.qkv.weight") == 2);
  CHECK(model->layer_of("head.weight") == 3);
  CHECK(model->forward(torch::randn({2, 3, 16, 64, 64}), {}).sizes() == torch::IntArrayRef({2, 5}));
}

TEST_CASE("rank and world come from torchrun's or Slurm's variables", "[trainer][distributed]") {
  auto from = [](std::map<std::string, std::string> env) {
    return trainer::world_from_environment([env](const char* name) -> const char* {
      const auto it = env.find(name);
      return it == env.end() ? nullptr : it->second.c_str();
    });
  };
  const auto none = from({});
  CHECK(none.size == 1);
  CHECK(none.launcher == "none");
  const auto torchrun = from(
      {{"RANK", "3"}, {"WORLD_SIZE", "8"}, {"LOCAL_RANK", "1"}, {"MASTER_ADDR", "node7"}, {"MASTER_PORT", "29400"}});
  CHECK(torchrun.rank == 3);
  CHECK(torchrun.size == 8);
  CHECK(torchrun.local_rank == 1);
  CHECK(torchrun.master_addr == "node7");
  CHECK(torchrun.master_port == 29400);
  const auto slurm = from({{"SLURM_PROCID", "9"},
                           {"SLURM_NTASKS", "16"},
                           {"SLURM_LOCALID", "1"},
                           {"SLURM_JOB_NODELIST", "gpu[003-010,12],cpu1"},
                           {"SLURM_JOB_ID", "123456"}});
  CHECK(slurm.launcher == "slurm");
  CHECK(slurm.rank == 9);
  CHECK(slurm.size == 16);
  CHECK(slurm.local_rank == 1);
  CHECK(slurm.master_addr == "gpu003");
  CHECK(slurm.master_port == 20000 + 123456 % 20000);
  CHECK(trainer::first_slurm_host("a1,a2") == "a1");
  CHECK(trainer::first_slurm_host("node[7-8]") == "node7");
  CHECK(trainer::first_slurm_host("rack[2-3]-n[01-04]") == "rack2-n01");
  CHECK_THROWS_WITH(from({{"RANK", "2"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"}}),
                    Catch::Matchers::ContainsSubstring("rank 2 is not in 0..1"));
  CHECK_THROWS_WITH(from({{"RANK", "x"}, {"WORLD_SIZE", "2"}}),
                    Catch::Matchers::ContainsSubstring("RANK='x' is not a number"));
}

namespace {

// A clip of `count` copies of one random frame (an augmentation the same on every frame keeps them equal).
std::vector<std::uint8_t> still_clip(int count, int size, std::uint64_t seed) {
  trainer::Rng rng(seed);
  std::vector<std::uint8_t> frame(static_cast<std::size_t>(size) * size * 3);
  for (auto& v : frame) v = static_cast<std::uint8_t>(rng.uniform(256));
  std::vector<std::uint8_t> clip;
  for (int t = 0; t < count; ++t) clip.insert(clip.end(), frame.begin(), frame.end());
  return clip;
}

bool frames_equal(const std::vector<std::uint8_t>& clip, int count) {
  const auto n = clip.size() / count;
  for (int t = 1; t < count; ++t)
    if (!std::equal(clip.begin(), clip.begin() + n, clip.begin() + t * n)) return false;
  return true;
}

}  // namespace

TEST_CASE("RandAugment: timm's operations, the same draws on every frame, deterministic under a seed",
          "[trainer][augment]") {
  const trainer::RandAugment augment("rand-m7-n4-mstd0.5-inc1");
  CHECK(augment.layers() == 4);
  CHECK(augment.magnitude() == 7);
  CHECK(augment.magnitude_std() == 0.5);
  CHECK_THROWS_WITH(trainer::RandAugment("rand-m7-x4"), Catch::Matchers::ContainsSubstring("unknown field x4"));
  CHECK_THROWS(trainer::RandAugment("auto-m7"));
  int changed = 0;
  for (std::uint64_t seed = 0; seed < 40; ++seed) {
    auto a = still_clip(4, 32, seed), b = a;
    const auto original = a;
    trainer::Rng ra(seed), rb(seed);
    augment.apply(a.data(), 4, 32, 32, ra);
    augment.apply(b.data(), 4, 32, 32, rb);
    CHECK(a == b);              // deterministic
    CHECK(frames_equal(a, 4));  // every frame alike
    changed += a != original;
  }
  // Four layers applied with probability 0.5 each: all four skipped in 1/16 of clips.
  CHECK(changed >= 30);

  // Each operation on every frame; some with known results.
  for (const auto& op : trainer::RandAugment::operations()) {
    auto clip = still_clip(3, 24, 9);
    trainer::RandAugment::apply_operation(op, 7, false, clip.data(), 3, 24, 24);
    INFO(op);
    CHECK(frames_equal(clip, 3));
  }
  auto clip = still_clip(1, 16, 3);
  const auto original = clip;
  trainer::RandAugment::apply_operation("Invert", 5, false, clip.data(), 1, 16, 16);
  for (std::size_t i = 0; i < clip.size(); ++i) REQUIRE(clip[i] == 255 - original[i]);
  clip = original;
  trainer::RandAugment::apply_operation("SolarizeIncreasing", 10, false, clip.data(), 1, 16, 16);  // threshold 0
  CHECK(clip[5] == 255 - original[5]);
  clip = original;
  trainer::RandAugment::apply_operation("PosterizeIncreasing", 5, false, clip.data(), 1, 16, 16);  // 2 bits kept
  for (std::size_t i = 0; i < clip.size(); ++i) REQUIRE(clip[i] == (original[i] & 0xC0));
  clip = original;
  trainer::RandAugment::apply_operation("Rotate", 0, false, clip.data(), 1, 16, 16);
  CHECK(clip == original);
  // TranslateXRel at level 10: 0.45 x 20 = 9 pixels; output x shows input x + 9, the rest is fill.
  auto wide = still_clip(1, 20, 4);
  const auto before = wide;
  trainer::RandAugment::apply_operation("TranslateXRel", 10, false, wide.data(), 1, 20, 20);
  CHECK(wide[(5 * 20 + 2) * 3] == before[(5 * 20 + 11) * 3]);
  CHECK(wide[(5 * 20 + 15) * 3] == 124);
}

TEST_CASE("random erasing: a quarter of the clips, areas within timm's range, one region for all frames",
          "[trainer][augment]") {
  const trainer::RandomErasing erasing;  // VideoMAE's 0.25
  trainer::Rng rng(11);
  int erased = 0;
  constexpr int kClips = 4000;
  double area_sum = 0;
  for (int i = 0; i < kClips; ++i) {
    auto clip = still_clip(2, 16, 100 + i % 7);
    const double share = erasing.apply(clip.data(), 2, 16, 16, rng);
    if (share > 0) {
      ++erased;
      area_sum += share;
      // Rounded sides allow a little beyond [0.02, 1/3].
      CHECK(share >= 0.015);
      CHECK(share <= 0.40);
    }
    REQUIRE(frames_equal(clip, 2));
  }
  const double rate = static_cast<double>(erased) / kClips;
  INFO("erased " << rate << ", mean area " << area_sum / erased);
  CHECK(std::abs(rate - 0.25) < 0.03);  // binomial sd 0.007
  CHECK(area_sum / erased > 0.1);       // U(0.02, 1/3) has mean 0.18; large ones fail to fit more often
  CHECK(area_sum / erased < 0.2);
  auto a = still_clip(1, 16, 1), b = a;
  trainer::Rng r1(5), r2(5);
  for (int i = 0; i < 8; ++i) {
    erasing.apply(a.data(), 1, 16, 16, r1);
    erasing.apply(b.data(), 1, 16, 16, r2);
  }
  CHECK(a == b);
}

TEST_CASE("Mixup and CutMix: lambda ~ Beta, soft targets, CutMix's box the same in every frame", "[trainer][augment]") {
  trainer::Mixup only_mixup{
      .mixup = 0.8, .cutmix = 0, .probability = 1, .switch_probability = 0.5, .smoothing = 0.1, .classes = 4};
  const auto video = torch::randn({4, 3, 2, 8, 8});
  const auto labels = torch::tensor({0, 1, 2, 3}, torch::kInt64);
  trainer::Rng rng(3);
  double sum = 0, squares = 0;
  constexpr int kDraws = 4000;
  for (int i = 0; i < kDraws; ++i) {
    const double l = only_mixup.apply(video, labels, rng).lambda;
    sum += l;
    squares += l * l;
  }
  const double mean = sum / kDraws, variance = squares / kDraws - mean * mean;
  INFO("lambda ~ Beta(0.8, 0.8): mean " << mean << " variance " << variance);
  CHECK(std::abs(mean - 0.5) < 0.02);
  CHECK(std::abs(variance - 0.64 / (2.56 * 2.6)) < 0.008);  // a b / ((a + b)^2 (a + b + 1)) = 0.096
  {
    trainer::Rng a(7), b(7);
    const auto x = only_mixup.apply(video, labels, a), y = only_mixup.apply(video, labels, b);
    CHECK(x.lambda == y.lambda);
    CHECK(x.video.equal(y.video));
  }

  const auto mixed = only_mixup.apply(video, labels, rng);
  CHECK_FALSE(mixed.cut);
  CHECK(torch::allclose(mixed.video, video * mixed.lambda + video.flip(0) * (1 - mixed.lambda)));
  CHECK(torch::allclose(mixed.targets.sum(1), torch::ones({4})));
  const double off = 0.1 / 4, on = 0.9 + off;
  CHECK(mixed.targets[0][0].item<double>() == Approx(on * mixed.lambda + off * (1 - mixed.lambda)));
  CHECK(mixed.targets[0][3].item<double>() == Approx(off * mixed.lambda + on * (1 - mixed.lambda)));

  trainer::Mixup both{
      .mixup = 0.8, .cutmix = 1.0, .probability = 1, .switch_probability = 0.5, .smoothing = 0.1, .classes = 4};
  int cuts = 0;
  for (int i = 0; i < 400; ++i) {
    const auto r = both.apply(video, labels, rng);
    if (!r.cut) continue;
    ++cuts;
    // Each pixel is the clip's own or its partner's, and the partner's share is 1 - lambda, the
    // same in both frames.
    const auto own = r.video.eq(video).all(1), other = r.video.eq(video.flip(0)).all(1);  // [B, T, H, W]
    REQUIRE(own.logical_or(other).all().item<bool>());
    const auto pasted = other.logical_and(own.logical_not())[0];
    CHECK(pasted[0].equal(pasted[1]));
    CHECK(pasted.to(torch::kFloat32).mean().item<double>() == Approx(1 - r.lambda).margin(1e-6));
  }
  CHECK(std::abs(cuts / 400.0 - 0.5) < 0.1);
}

TEST_CASE("drop path: unbiased scales, VideoMAE's linear rule, the same draws for any split over ranks",
          "[trainer][augment]") {
  const auto whole = trainer::drop_path_scales(8, 12, 0.1, 7, 3, 0);
  const auto second_rank = trainer::drop_path_scales(4, 12, 0.1, 7, 3, 4);
  CHECK(whole.slice(0, 4).equal(second_rank));
  CHECK((whole.select(1, 0) == 1).all().item<bool>());  // the first block never drops
  const auto many = trainer::drop_path_scales(20000, 12, 0.1, 1, 0, 0);
  const auto last = many.select(1, 11);
  CHECK(last.eq(0).to(torch::kFloat32).mean().item<double>() == Approx(0.1).margin(0.01));
  CHECK(last.mean().item<double>() == Approx(1.0).margin(0.02));
  // With every branch kept at scale 1 the classifier's output is the plain forward's.
  auto config = trainer::load_config("", {"model_preset=tiny"}, "finetune");
  trainer::VideoClassifier model(config.model, 3, "mean");
  const auto video = torch::randn({2, 3, 16, 64, 64});
  CHECK(torch::allclose(model->forward(video, {}, torch::ones({2, 2, 2})), model->forward(video, {})));
  const auto dropped = torch::zeros({2, 2, 2});
  CHECK_FALSE(torch::allclose(model->forward(video, {}, dropped), model->forward(video, {})));
}

TEST_CASE("fuzz regression: a zero model size in config.json is refused, not divided by", "[trainer][config][fuzz]") {
  // fuzz_json: config.cpp divided model.dim by model.heads = 0 (UBSan: division by zero).
  for (const char* key :
       {"model.heads=0", "model.decoder_heads=0", "model.patch=0", "model.tubelet=0", "model.dim=-64"})
    CHECK_THROWS_WITH(trainer::load_config("", {"model_preset=tiny", key}),
                      Catch::Matchers::ContainsSubstring("must be > 0"));
}

TEST_CASE("fuzz regression: a whole-number setting given 1e119 or 2.5 is refused, not converted",
          "[trainer][config][fuzz]") {
  // fuzz_json: nlohmann's float -> int conversion of 1e119 (UBSan: outside the range of int).
  for (const char* key : {"optim.batch=1e119", "model.depth=2.5", "data.workers=-1e30"})
    CHECK_THROWS_WITH(trainer::load_config("", {"model_preset=tiny", key}),
                      Catch::Matchers::ContainsSubstring("must be a whole number"));
  CHECK(trainer::load_config("", {"model_preset=tiny", "optim.batch=8.0"}).optim.batch == 8);
}
