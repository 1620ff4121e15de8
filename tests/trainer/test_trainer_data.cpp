// The trainer on real shards (tests/trainer/make_shards.sh): crops keep targets and frames in
// agreement on a known pan, the tiny model overfits one batch for every target, the loader is the
// same for any thread count.
#include <torch/torch.h>  // before Catch2: glog's CHECK must not replace Catch2's

#include <trainer/checkpoint.h>
#include <trainer/clip_dataset.h>
#include <trainer/clip_geometry.h>
#include <trainer/clip_loader.h>
#include <trainer/features.h>
#include <trainer/pretrain.h>
#include <trainer/target_set.h>
#include <trainer/test_views.h>
#include <trainer/torch_file.h>

#include <mme/error.h>
#include <mme/part_store.h>

#include <test_support.h>

#include <fmt/format.h>
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_exception.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>

namespace fs = std::filesystem;

namespace {

fs::path shards() {
  return fs::path(MME_TRAINER_SHARDS);
}

trainer::TrainConfig tiny(const std::string& set, std::vector<std::string> extra = {}) {
  std::vector<std::string> o{"model_preset=tiny", "data.flow_dir=" + (shards() / (set + "-flow")).string(),
                             "data.target_dir=" + (shards() / (set + "-traj")).string()};
  o.insert(o.end(), extra.begin(), extra.end());
  return trainer::load_config("", o);
}

// Sub-pixel shift (dx, dy) that best maps frame a onto frame b (b(x) = a(x - d)), by exhaustive
// search of the mean absolute difference over the overlap and a parabola through the best.
std::pair<double, double> frame_shift(const torch::Tensor& a, const torch::Tensor& b, int range) {
  const auto fa = a.to(torch::kFloat32).mean(-1), fb = b.to(torch::kFloat32).mean(-1);  // gray [S, S]
  const int S = static_cast<int>(fa.size(0));
  auto cost = [&](int dx, int dy) {
    const int x0 = std::max(0, dx), x1 = std::min(S, S + dx), y0 = std::max(0, dy), y1 = std::min(S, S + dy);
    const auto bb = fb.slice(0, y0, y1).slice(1, x0, x1);
    const auto aa = fa.slice(0, y0 - dy, y1 - dy).slice(1, x0 - dx, x1 - dx);
    return (bb - aa).abs().mean().item<double>();
  };
  int bx = 0, by = 0;
  double best = 1e30;
  for (int dy = -range; dy <= range; ++dy)
    for (int dx = -range; dx <= range; ++dx)
      if (double c = cost(dx, dy); c < best) best = c, bx = dx, by = dy;
  auto refine = [&](double minus, double plus) {
    const double denom = minus - 2 * best + plus;
    return denom > 0 ? 0.5 * (minus - plus) / denom : 0.0;
  };
  return {bx + refine(cost(bx - 1, by), cost(bx + 1, by)), by + refine(cost(bx, by - 1), cost(bx, by + 1))};
}

// The batches carry the trajectory maps (and the dataset reads trajgen's shards).
const trainer::ClipNeeds kTrajectories{.trajectories = true};

}  // namespace

TEST_CASE("after crop, resize and flip the trajectory targets still describe the frames' motion", "[trainer][data]") {
  // The pan moves the content 3 px left and 1 px down per native frame. Frames 0 and 1 of a clip
  // are 4 native frames apart and the tube's trajectories run the same 4 steps: after the crop's
  // zoom and flip, their total displacement and the shift between the two frames must both be the
  // pan's.
  auto config = tiny(
      "pan", {"model.img_size=112", "data.flip=true", "optim.batch=12", "data.repeats=12", "targets.trajectory=1"});
  trainer::ClipDataset dataset(config, kTrajectories);
  REQUIRE(dataset.videos().size() == 1);
  const auto masks = trainer::make_mask_generator(config.mask);
  trainer::ClipLoader loader(dataset, config, masks.get(), kTrajectories, 0, false);
  const auto batch = loader.next();
  int flipped = 0;
  for (int c = 0; c < 12; ++c) {
    const auto traj = batch.trajectory[c][0];  // tube 0: [g, g, L, 2]
    const auto total = traj.sum(2);            // [g, g, 2]
    const auto valid = batch.valid[c][0].to(torch::kBool);
    REQUIRE(valid.sum().item<long>() > 0);
    const double tx = total.select(-1, 0).index({valid}).median().item<double>();
    const double ty = total.select(-1, 1).index({valid}).median().item<double>();
    const auto [fx, fy] = frame_shift(batch.frames[c][0], batch.frames[c][1], 14);
    // The truth: 12 px left and 4 px down at the working size, times the crop's zoom, mirrored.
    const auto& crop = batch.crops[c];
    const double ex = -12.0 * 112 / crop.width * (crop.flip ? -1 : 1), ey = 4.0 * 112 / crop.height;
    INFO("clip " << c << ": truth (" << ex << ", " << ey << "), trajectories (" << tx << ", " << ty << "), frames ("
                 << fx << ", " << fy << ")");
    CHECK(std::abs(tx - ex) < 0.05 * std::abs(ex) + 0.1);  // DIS flow, summed over 4 steps
    CHECK(std::abs(ty - ey) < 0.05 * std::abs(ex) + 0.1);
    CHECK(std::abs(fx - ex) < 0.5);  // the frames moved the same way (sub-pixel search)
    CHECK(std::abs(fy - ey) < 0.5);
    flipped += crop.flip;
  }
  CHECK(flipped > 0);
  CHECK(flipped < 12);
}

TEST_CASE("the MGM mask follows an ffmpeg-made moving object from slice to slice", "[trainer][data][mask]") {
  // A 48 x 48 patch moves 3 px right per frame from (20, 96) over a still photograph. With a
  // quarter of the positions masked, MGM must mask the object's positions in every slice; tube
  // masking, the control, masks about a quarter of them.
  auto object_tokens = [](const trainer::Batch& b, int clip, int slice) {
    const int f = b.frame_indices[clip][2 * slice];
    // Where the object is during the tube (its frames f and f + 2).
    const auto box = trainer::crop_box({20.0f + 3 * f, 96, 68.0f + 3 * (f + 2), 144}, b.crops[clip], 224, 16);
    std::vector<int> tokens;
    for (int r = 0; r < 14; ++r)
      for (int q = 0; q < 14; ++q)
        if (q + 0.5f > box[0] && q + 0.5f < box[2] && r + 0.5f > box[1] && r + 0.5f < box[3])
          tokens.push_back(r * 14 + q);
    return tokens;
  };
  double share[2] = {0, 0};
  int mask_index = 0;
  for (const std::string type : {"mgm", "tube"}) {
    auto config = tiny("object", {"model.img_size=224", "mask.type=" + type, "mask.ratio=0.25", "optim.batch=6",
                                  "data.repeats=6", "data.stride=2", "data.scales=[1]"});
    trainer::ClipDataset dataset(config, kTrajectories);
    const auto masks = trainer::make_mask_generator(config.mask);
    trainer::ClipLoader loader(dataset, config, masks.get(), {}, 0, false);
    const auto batch = loader.next();
    int hit = 0, total = 0;
    for (int c = 0; c < 6; ++c)
      for (int s = 0; s < 8; ++s) {
        const auto tokens = object_tokens(batch, c, s);
        REQUIRE(tokens.size() >= 2);
        for (int t : tokens) hit += batch.mask[c][s * 196 + t].item<bool>();
        total += static_cast<int>(tokens.size());
      }
    share[mask_index++] = static_cast<double>(hit) / total;
  }
  INFO("object positions masked: MGM " << share[0] << ", tube " << share[1]);
  CHECK(share[0] > 0.9);
  CHECK(share[1] < 0.5);
}

TEST_CASE("the loader gives the same batches for any number of threads and from any start", "[trainer][data]") {
  auto one = tiny("real", {"optim.batch=3", "data.workers=1", "targets.trajectory=1", "data.repeats=2"});
  auto three =
      tiny("real", {"optim.batch=3", "data.workers=3", "targets.trajectory=1", "data.repeats=2", "data.prefetch=2"});
  trainer::ClipDataset dataset(one, kTrajectories);
  const auto masks = trainer::make_mask_generator(one.mask);
  trainer::ClipLoader a(dataset, one, masks.get(), kTrajectories, 0, false);
  trainer::ClipLoader b(dataset, three, masks.get(), kTrajectories, 0, false);
  REQUIRE(a.batches_per_epoch() == 3);  // 5 videos x 2 clips / 3
  std::vector<trainer::Batch> first;
  for (int i = 0; i < 7; ++i) {  // across two epoch boundaries
    auto x = a.next(), y = b.next();
    CHECK(x.index == i);
    CHECK(x.videos == y.videos);
    CHECK(x.frames.equal(y.frames));
    CHECK(x.mask.equal(y.mask));
    CHECK(x.trajectory.equal(y.trajectory));
    CHECK(x.valid.equal(y.valid));
    CHECK(x.labels.equal(y.labels));
    first.push_back(std::move(x));
  }
  // Repeated sampling: consecutive clips come from the same video, with their own crops.
  CHECK(first[0].videos[0] == first[0].videos[1]);
  CHECK_FALSE(first[0].frames[0].equal(first[0].frames[1]));
  // Resuming at batch 4 sees batch 4.
  trainer::ClipLoader c(dataset, three, masks.get(), kTrajectories, 4, false);
  const auto resumed = c.next();
  CHECK(resumed.index == 4);
  CHECK(resumed.frames.equal(first[4].frames));
  CHECK(resumed.trajectory.equal(first[4].trajectory));
  // An epoch visits every video (repeats times).
  std::vector<int> seen;
  for (int i = 0; i < 3; ++i) seen.insert(seen.end(), first[i].videos.begin(), first[i].videos.end());
  std::sort(seen.begin(), seen.end());
  CHECK(seen.size() == 9);
  CHECK(std::unique(seen.begin(), seen.end()) - seen.begin() >= 4);
}

TEST_CASE("a damaged or hand-edited target config.json is a FileError naming the file, whatever it holds",
          "[trainer][data][refusal]") {
  // Found by fuzz_settings: "traj_len": 1e119 was converted to int (undefined), a string was
  // nlohmann's bare type_error, and "flow": "x" threw from the message meant to explain it.
  const auto flow_dir = shards() / "real-flow";
  const auto videos = mme::scan_videos(flow_dir);
  const auto sound = nlohmann::json::parse(mme::test::read_file(shards() / "real-traj" / "config.json"));
  trainer::TrajectoryConfig trajectory;
  mme::test::TempDir dir;
  const auto file = dir / "config.json";
  auto check = [&](const nlohmann::json& config) {
    mme::test::write_file(file, config.dump());
    trainer::check_target_set(dir.path(), flow_dir, videos, trajectory);
  };
  REQUIRE_NOTHROW(check(sound));
  const std::vector<std::pair<std::string, nlohmann::json>> damaged = {
      {"traj_len", 1e119}, {"traj_len", "4"}, {"traj_len", 4.5},
      {"cell", nullptr},   {"flow", "x"},     {"flow", {{"videos", "many"}, {"hash", 7}, {"settings", 1}}}};
  for (const auto& [key, value] : damaged) {
    auto config = sound;
    config[key] = value;
    INFO(config.dump());
    CHECK_THROWS_MATCHES(check(config), mme::FileError,
                         Catch::Matchers::MessageMatches(Catch::Matchers::ContainsSubstring(file.string())));
  }
  for (const auto& bytes : {std::string("[4, 8]"), std::string("{\"traj_len\": 4,"), std::string("")}) {
    mme::test::write_file(file, bytes);
    CHECK_THROWS_MATCHES(trainer::check_target_set(dir.path(), flow_dir, videos, trajectory), mme::FileError,
                         Catch::Matchers::MessageMatches(Catch::Matchers::ContainsSubstring(file.string())));
  }
}

TEST_CASE("the tiny model overfits one real batch for each target", "[trainer][overfit]") {
  torch::set_num_threads(1);
  for (const std::string target : {"pixel", "hog", "trajectory"}) {
    std::vector<std::string> o{"optim.batch=2", "model.head=" + std::string(target == "pixel" ? "linear" : "mlp")};
    for (const std::string other : {"pixel", "hog", "trajectory"})
      o.push_back("targets." + other + "=" + (other == target ? "1" : "0"));
    auto config = tiny("real", o);
    auto targets = trainer::make_targets(config);
    REQUIRE(targets.size() == 1);
    trainer::ClipDataset dataset(config, targets.front().first->needs());
    const auto masks = trainer::make_mask_generator(config.mask);
    trainer::ClipLoader loader(dataset, config, masks.get(), targets.front().first->needs(), 0, false);
    const auto batch = trainer::to_device(loader.next(), torch::kCPU);
    torch::manual_seed(0);
    trainer::MaskedVideoModel model(config.model, std::map<std::string, int>{{target, targets[0].first->channels()}});
    torch::optim::AdamW optimizer(model->parameters(), torch::optim::AdamWOptions(2e-3).weight_decay(0));
    double first = 0, last = 0;
    for (int step = 0; step < 400; ++step) {
      optimizer.zero_grad();
      const auto losses = trainer::masked_losses(model, targets, batch, false);
      losses.total.backward();
      optimizer.step();
      (step == 0 ? first : last) = losses.total.item<double>();
    }
    INFO(target << ": loss " << first << " -> " << last);
    CHECK(last < first / 10);
  }
}

TEST_CASE("trainer features writes one embedding per video (the mean over eval's views) that h5py reads",
          "[trainer][features]") {
  mme::test::TempDir dir;
  auto config = tiny("real", {"finetune.test_clips=2", "finetune.test_crops=2"});
  torch::manual_seed(5);
  auto model = trainer::make_model(config);
  {
    torch::optim::AdamW optimizer(model->parameters(), torch::optim::AdamWOptions(1e-3));
    trainer::save_checkpoint(dir / "pre.pt", *model, optimizer, {0, trainer::identity(config).dump()});
  }
  config.finetune.init = dir / "pre.pt";
  const long written = trainer::write_features(config, dir / "features.h5");
  const trainer::ClipDataset dataset(config, {});
  REQUIRE(written == static_cast<long>(dataset.videos().size()));
  // One video's embedding computed here: the mean of the pretrained encoder's tokens, averaged over
  // the 2 x 2 views.
  const auto& video = dataset.videos().back();
  const auto views = trainer::test_views(dataset, video, config, 2, 2, {});
  torch::NoGradGuard no_grad;
  model->eval();
  const auto expected =
      model->encode(trainer::imagenet_normalise(trainer::frames_to_video(views.frames)), {}).mean(1).mean(0);
  trainer::write_state_dict(dir / "expected.pth", {{"embedding", expected}}, "");
  mme::test::write_file(dir / "check.py", R"(import sys, h5py, torch
f = h5py.File(sys.argv[1], "r")
ids = [i.decode() for i in f["ids"][:]]
features, labels = f["features"][:], f["labels"][:]
assert features.shape == (len(ids), 64) and labels.shape == (len(ids),) and labels.dtype == "int64", features.shape
assert f.attrs["kind"] == "pretraining" and f.attrs["views_per_video"] == 4, dict(f.attrs)
row = torch.from_numpy(features[ids.index(sys.argv[3])])
want = torch.load(sys.argv[2])["embedding"]
print("videos %d difference %.3g" % (len(ids), float((row - want).abs().max())))
assert torch.allclose(row, want, rtol=1e-5, atol=1e-6)
)");
  const auto r =
      mme::test::run_capture(mme::test::python() + " " + (dir / "check.py").string() + " " +
                             (dir / "features.h5").string() + " " + (dir / "expected.pth").string() + " " + video.id);
  INFO(r.output);
  CHECK(r.rc == 0);
  CHECK_THAT(r.output, Catch::Matchers::ContainsSubstring(fmt::format("videos {}", written)));
}
