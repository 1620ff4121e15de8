// Weights both ways between the trainer, VideoMAE's model code and Hugging Face's transformers:
// the trainer writes its checkpoints' exports and its outputs on one clip; check_weight_exchange.py
// loads them into a ViT written to VideoMAE's definition and into transformers' models and compares,
// then writes checkpoints laid out as published ones, which the trainer must read and reproduce.
#include <torch/torch.h>  // before Catch2: glog's CHECK must not replace Catch2's

#include <mme/error.h>
#include <trainer/checkpoint.h>
#include <trainer/classifier.h>
#include <trainer/config.h>
#include <trainer/finetune.h>
#include <trainer/model.h>
#include <trainer/pretrain.h>
#include <trainer/safetensors.h>
#include <trainer/torch_file.h>
#include <trainer/videomae_io.h>

#include <test_support.h>

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <sstream>

namespace {

namespace fs = std::filesystem;

// Random values in every parameter, so that biases and norms (0 and 1 at first) are checked too.
void perturb(torch::nn::Module& module, int seed) {
  torch::manual_seed(seed);
  torch::NoGradGuard no_grad;
  for (auto& p : module.parameters()) p.add_(torch::randn_like(p) * 0.05);
}

// A checkpoint of `model` as a run with `config` writes it (trainer export reads it).
void checkpoint(const fs::path& file, torch::nn::Module& model, const trainer::TrainConfig& config) {
  torch::optim::AdamW optimizer(model.parameters(), torch::optim::AdamWOptions(1e-3));
  trainer::save_checkpoint(file, model, optimizer, {0, trainer::identity(config).dump()});
}

double relative_error(const torch::Tensor& ours, const torch::Tensor& theirs) {
  return (ours - theirs).abs().max().item<double>() / theirs.abs().max().item<double>();
}

std::map<std::string, torch::Tensor> read_all(const fs::path& file) {
  std::map<std::string, torch::Tensor> out;
  for (auto& [name, t] : trainer::read_state_dict(file).tensors) out[name] = t;
  return out;
}

}  // namespace

TEST_CASE("weights move both ways with VideoMAE's model code and Hugging Face's transformers",
          "[trainer][export][python]") {
  mme::test::TempDir dir;
  torch::NoGradGuard no_grad;
  constexpr int classes = 5;
  auto pre_config = trainer::load_config("", {"model_preset=tiny", "targets.pixel=1"});
  auto ft_config = trainer::load_config("", {"model_preset=tiny", "finetune.classes=5"}, "finetune");
  auto mme_config = trainer::load_config("", {"model_preset=tiny", "recipe=mme"});
  const auto& m = pre_config.model;
  mme::test::write_file(dir / "config.json", nlohmann::json{{"img_size", m.img_size},
                                                            {"frames", m.frames},
                                                            {"patch", m.patch},
                                                            {"tubelet", m.tubelet},
                                                            {"dim", m.dim},
                                                            {"depth", m.depth},
                                                            {"heads", m.heads},
                                                            {"decoder_dim", m.decoder_dim},
                                                            {"decoder_depth", m.decoder_depth},
                                                            {"decoder_heads", m.decoder_heads},
                                                            {"mlp_ratio", m.mlp_ratio},
                                                            {"classes", classes}}
                                                 .dump());

  torch::manual_seed(1);
  const auto video = torch::randn({2, 3, m.frames, m.img_size, m.img_size});
  auto mask_tensor = torch::zeros({2, m.tokens()}, torch::kBool);
  {
    // Tube masking, 90 %: the same count per clip, as the models need.
    auto random = torch::rand({m.tokens_side() * m.tokens_side()});
    const auto order = random.argsort();
    auto slice = torch::zeros({m.tokens_side() * m.tokens_side()}, torch::kBool);
    slice.index_put_({order.slice(0, 0, static_cast<long>(0.9 * order.size(0)))}, true);
    mask_tensor = slice.repeat({m.tokens_t()}).unsqueeze(0).expand({2, -1}).contiguous();
    mask_tensor[1] = mask_tensor[1].roll(3);  // another mask for the second clip, same count
  }

  // The trainer's models and their exports.
  auto pre = trainer::make_model(pre_config);
  perturb(*pre, 2);
  checkpoint(dir / "pre.pt", *pre, pre_config);
  trainer::NamedTensors outputs{{"video", video}, {"mask", mask_tensor}};
  outputs.emplace_back("tokens", pre->encode(video, {}));
  outputs.emplace_back("pixel", pre->forward(video, mask_tensor).at("pixel"));
  for (const std::string pooling : {"mean", "first"}) {
    auto config = ft_config;
    config.finetune.pooling = pooling;
    trainer::VideoClassifier ft(config.model, classes, pooling);
    perturb(*ft, 3);
    ft->eval();
    checkpoint(dir / ("ft_" + pooling + ".pt"), *ft, config);
    outputs.emplace_back("features_" + pooling, ft->features(video, {}));
    outputs.emplace_back("logits_" + pooling, ft->forward(video, {}));
  }
  auto mme = trainer::make_model(mme_config);
  perturb(*mme, 4);
  checkpoint(dir / "mme.pt", *mme, mme_config);
  outputs.emplace_back("tokens_mme", mme->encode(video, {}));
  trainer::write_state_dict(dir / "ours.pth", outputs, "");
  for (const std::string run : {"pre", "ft_mean", "ft_first"}) {
    trainer::export_run(dir / (run + ".pt"), dir / (run + ".pth"), "videomae");
    trainer::export_run(dir / (run + ".pt"), dir / (run + "_hf"), "hf");
  }
  CHECK_THAT(trainer::export_run(dir / "mme.pt", dir / "enc_hf", "hf"),
             Catch::Matchers::ContainsSubstring("VideoMAEModel"));

  const auto script = mme::test::source_dir() / "tests/trainer/check_weight_exchange.py";
  const auto r = mme::test::run_capture(mme::test::python() + " " + script.string() + " " + dir.path().string());
  INFO(r.output);
  REQUIRE(r.rc == 0);

  // Back: checkpoints as the published ones are laid out, through finetune.init's loader.
  const auto expected = read_all(dir / "py_outputs.pth");
  auto logits_after_init = [&](const std::string& file, const std::string& pooling) {
    trainer::VideoClassifier model(ft_config.model, classes, pooling);
    model->eval();
    const auto report = trainer::load_init(model, ft_config.model, dir / file);
    return std::make_pair(model->forward(video, {}), report);
  };
  for (const std::string file : {"py_bare.pth", "py_model.pth", "py_module.pth"}) {
    const auto [logits, report] = logits_after_init(file, "mean");
    INFO(file << ": " << report.summary());
    CHECK(report.fresh.empty());
    CHECK(relative_error(logits, expected.at("logits_ft")) < 1e-5);
    if (file == "py_model.pth") {
      for (const char* entry : {"optimizer (dict)", "epoch (int)", "scaler (dict)", "args (argparse.Namespace)"})
        CHECK(std::count(report.ignored.begin(), report.ignored.end(), entry) == 1);
    }
  }
  {
    const auto [logits, report] = logits_after_init("py_first.pth", "first");
    INFO(report.summary());
    CHECK(report.fresh.empty());
    CHECK(relative_error(logits, expected.at("logits_first")) < 1e-5);
  }
  {
    const auto [logits, report] = logits_after_init("py_hf", "mean");  // a Hugging Face directory
    INFO(report.summary());
    CHECK(report.fresh.empty());
    CHECK(relative_error(logits, expected.at("logits_hf")) < 1e-5);
  }
  {
    // A pretraining checkpoint as VideoMAE publishes it, whole, into the pretraining model.
    auto model = trainer::make_model(pre_config);
    const auto weights = trainer::read_foreign_weights(dir / "py_pre.pth");
    const auto report =
        trainer::set_weights(*model, weights.tensors, dir / "py_pre.pth", [](const std::string&) { return true; });
    CHECK(report.ignored.empty());
    CHECK(relative_error(model->encode(video, {}), expected.at("tokens_pre")) < 1e-5);
    CHECK(relative_error(model->forward(video, mask_tensor).at("pixel"), expected.at("pixel_pre")) < 1e-5);
    // ... and its encoder into a classifier: the final norm is not VideoMAE's classifier's.
    trainer::VideoClassifier classifier(ft_config.model, classes, "mean");
    const auto into = trainer::load_init(classifier, ft_config.model, dir / "py_pre.pth");
    CHECK(std::count(into.ignored.begin(), into.ignored.end(), "encoder.norm.weight") == 1);
    CHECK(std::count(into.fresh.begin(), into.fresh.end(), "fc_norm.weight") == 1);
  }
}

TEST_CASE("a safetensors shape whose element count overflows 64 bits is refused in one line",
          "[weights][safetensors]") {
  // The products of these shapes wrap around 2^64 to 2 and to 0 elements: 8 bytes passed as the
  // size of 2 float32, and a 2^40 x 2^40 tensor was reported as "16 bytes for 0 elements".
  for (const std::string shape :
       {"[77158673929, 239075442]", "[1099511627776, 1099511627776]", "[4294967296, 4294967296, 4]"}) {
    std::string header = R"({"w": {"dtype": "F32", "shape": )" + shape + R"(, "data_offsets": [0, 8]}})";
    header.append((8 - header.size() % 8) % 8, ' ');
    std::string file(8, '\0');
    for (int i = 0; i < 8; ++i) file[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
    file += header + std::string(8, '\0');
    std::istringstream in(file);
    INFO(shape);
    try {
      trainer::read_safetensors(in, file.size(), "model.safetensors");
      FAIL("accepted");
    } catch (const mme::FileError& e) {
      CHECK_THAT(e.what(), Catch::Matchers::ContainsSubstring("model.safetensors: tensor w: shape ") &&
                               Catch::Matchers::ContainsSubstring("holds more than 2^40 elements"));
      CHECK(std::string(e.what()).find('\n') == std::string::npos);
    }
  }
}
