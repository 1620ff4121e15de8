// `trainer pretrain` end to end on real shards: exact resume after a kill, refusal of targets made
// for other settings, skipped videos, a diverging run stopped with its last good checkpoint.
#include <torch/torch.h>  // the precompiled header of this executable; keeps torch ahead of Catch2

#include <test_support.h>

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;
using Catch::Matchers::ContainsSubstring;

namespace {

fs::path shards() {
  return fs::path(MME_TRAINER_SHARDS);
}

// Fine-tuning without VideoMAE's regularisation (drop path, Mixup/CutMix, RandAugment, erasing).
const std::string kPlainFinetune =
    " finetune.drop_path=0 finetune.mixup=0 finetune.cutmix=0 finetune.rand_augment= finetune.erase=0";

// The model's tensors in a checkpoint (its "model" archive, one sub-archive per submodule), by
// dotted name.
void collect_tensors(torch::serialize::InputArchive& archive, const std::string& prefix,
                     std::map<std::string, torch::Tensor>& out) {
  for (const auto& key : archive.keys()) {
    torch::Tensor t;
    torch::serialize::InputArchive child;
    if (archive.try_read(key, t) || archive.try_read(key, t, /*is_buffer=*/true))
      out[prefix + key] = t;
    else if (archive.try_read(key, child))
      collect_tensors(child, prefix + key + ".", out);
  }
}
std::map<std::string, torch::Tensor> checkpoint_model(const fs::path& file) {
  torch::serialize::InputArchive archive, model;
  archive.load_from(file.string());
  archive.read("model", model);
  std::map<std::string, torch::Tensor> out;
  collect_tensors(model, "", out);
  return out;
}

std::string tiny_run(const fs::path& out, const std::string& extra = "") {
  return std::string(TRAINER_BINARY) +
         " pretrain model_preset=tiny recipe=mme data.flow_dir=" + (shards() / "real-flow").string() +
         " data.target_dir=" + (shards() / "real-traj").string() + " run.out=" + out.string() +
         " optim.batch=2 optim.epochs=20 optim.warmup_epochs=1 optim.base_lr=0.05 " + extra;
}

std::vector<nlohmann::json> metrics(const fs::path& run) {
  std::vector<nlohmann::json> lines;
  std::ifstream in(run / "metrics.jsonl");
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

std::size_t line_count(const fs::path& file) {
  std::ifstream in(file);
  std::size_t n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

// Starts `command` in the background and returns once `file` has `lines` lines (or after a
// minute): the caller then signals the returned process.
pid_t start_until(const std::string& command, const fs::path& file, std::size_t lines) {
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", ("exec " + command).c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (line_count(file) < lines && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  return pid;
}

}  // namespace

TEST_CASE("a run killed mid-way resumes from its checkpoint and reproduces every loss bit for bit",
          "[trainer][cli][resume]") {
  mme::test::TempDir dir;
  const auto whole = dir / "whole", killed = dir / "killed";
  mme::test::run_checked(tiny_run(whole, "run.max_steps=24 run.checkpoint_every=5 data.workers=2") + " -q");

  // The same run, SIGKILLed after some steps (between checkpoints), then run again with another
  // number of loader threads.
  const pid_t pid = start_until(tiny_run(killed, "run.max_steps=24 run.checkpoint_every=5 data.workers=1") + " -q",
                                killed / "metrics.jsonl", 12);
  const bool was_running = kill(pid, 0) == 0 && waitpid(pid, nullptr, WNOHANG) == 0;
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  REQUIRE(was_running);  // killed, not finished
  REQUIRE(line_count(killed / "metrics.jsonl") < 24);
  const auto resumed =
      mme::test::run_capture(tiny_run(killed, "run.max_steps=24 run.checkpoint_every=5 data.workers=3"));
  INFO(resumed.output);
  REQUIRE(resumed.rc == 0);
  CHECK_THAT(resumed.output, ContainsSubstring("resuming at step"));

  const auto a = metrics(whole), b = metrics(killed);
  REQUIRE(a.size() == 24);
  REQUIRE(b.size() == 24);
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(b[i]["step"] == a[i]["step"]);
    CHECK(b[i]["loss"].get<double>() == a[i]["loss"].get<double>());  // exactly
    CHECK(b[i]["losses"] == a[i]["losses"]);
    CHECK(b[i]["lr"].get<double>() == a[i]["lr"].get<double>());
  }
  // The weights too: every tensor of the two final checkpoints, exactly.
  const auto wa = checkpoint_model(whole / "checkpoint.pt"), wb = checkpoint_model(killed / "checkpoint.pt");
  REQUIRE(wa.size() > 10);
  REQUIRE(wa.size() == wb.size());
  for (const auto& [name, tensor] : wa) {
    INFO(name);
    REQUIRE(wb.count(name));
    CHECK(torch::equal(tensor, wb.at(name)));
  }
  // Losses move: the run trains.
  CHECK(a.back()["loss"].get<double>() != a.front()["loss"].get<double>());
}

TEST_CASE("SIGINT stops a run after the current step with a checkpoint and exit code 130", "[trainer][cli][resume]") {
  mme::test::TempDir dir;
  const auto run = dir / "run";
  const pid_t pid =
      start_until(tiny_run(run, "run.max_steps=400 run.checkpoint_every=1000") + " -q", run / "metrics.jsonl", 3);
  kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 130);
  REQUIRE(fs::exists(run / "checkpoint.pt"));
  const auto done = metrics(run).size();
  CHECK(done >= 3);
  CHECK(done < 400);
  // The next run goes on from there.
  const auto resumed = mme::test::run_capture(tiny_run(run, "run.max_steps=" + std::to_string(done + 2)));
  INFO(resumed.output);
  CHECK(resumed.rc == 0);
  CHECK_THAT(resumed.output, ContainsSubstring("resuming at step " + std::to_string(done)));
  CHECK(metrics(run).size() == done + 2);
}

TEST_CASE("targets made for other settings or another flow set are refused, naming both values",
          "[trainer][cli][refusal]") {
  mme::test::TempDir dir;
  const auto steps = mme::test::run_capture(tiny_run(dir / "a", "run.max_steps=1 trajectory.steps=6"));
  CHECK(steps.rc == 1);
  CHECK_THAT(steps.output, ContainsSubstring("config.json"));
  CHECK_THAT(steps.output, ContainsSubstring("traj_len = 4"));
  CHECK_THAT(steps.output, ContainsSubstring("trajectory.steps = 6"));

  const auto other =
      mme::test::run_capture(tiny_run(dir / "b", "run.max_steps=1 data.flow_dir=" + (shards() / "pan-flow").string()));
  CHECK(other.rc == 1);
  CHECK_THAT(other.output, ContainsSubstring("another flow set"));
  CHECK_THAT(other.output, ContainsSubstring("5 videos"));
  CHECK_THAT(other.output, ContainsSubstring("1 videos"));

  // A run directory keeps its settings: others are refused with the difference named.
  mme::test::run_checked(tiny_run(dir / "c", "run.max_steps=1") + " -q");
  const auto changed = mme::test::run_capture(tiny_run(dir / "c", "run.max_steps=2 mask.ratio=0.5"));
  CHECK(changed.rc == 1);
  CHECK_THAT(changed.output, ContainsSubstring("0.5"));
  CHECK_THAT(changed.output, ContainsSubstring("mask"));
}

TEST_CASE("videos missing from the shards are skipped, counted and reported", "[trainer][cli][skipped]") {
  mme::test::TempDir dir;
  mme::test::write_file(dir / "list.txt",
                        "opencv-doc/cup.mp4 0\nopencv-doc/vtest.avi 0\npython3-imageio/realshort.mp4 1\n"
                        "kinetics/missing.mp4 2\n");
  const auto r =
      mme::test::run_capture(tiny_run(dir / "run", "run.max_steps=2 data.list=" + (dir / "list.txt").string()));
  INFO(r.output);
  REQUIRE(r.rc == 0);
  CHECK_THAT(r.output, ContainsSubstring("1 video(s) skipped"));
  CHECK_THAT(r.output, ContainsSubstring("kinetics/missing.mp4: not in the flow shards"));
  CHECK_THAT(r.output, ContainsSubstring("3 videos"));
  const auto skipped = nlohmann::json::parse(mme::test::read_file(dir / "run" / "skipped.json"));
  CHECK(skipped.size() == 1);
  CHECK(skipped.contains("kinetics/missing.mp4"));
  // The metrics plot.
  mme::test::run_checked(mme::test::python() + " " + (mme::test::source_dir() / "scripts/plot-metrics.py").string() +
                         " " + (dir / "run").string());
  CHECK(fs::file_size(dir / "run" / "metrics.png") > 10000);
}

TEST_CASE("a diverging run stops at the first non-finite loss and keeps its last good checkpoint",
          "[trainer][cli][nan]") {
  mme::test::TempDir dir;
  // An absurd learning rate: AdamW moves every weight by ~lr per step.
  const auto r = mme::test::run_capture(
      tiny_run(dir / "run", "optim.base_lr=1e30 optim.warmup_epochs=0 run.checkpoint_every=1 run.max_steps=20"));
  INFO(r.output);
  CHECK(r.rc == 1);
  CHECK_THAT(r.output, ContainsSubstring("the loss is not finite"));
  CHECK_THAT(r.output, ContainsSubstring("last good checkpoint (step"));
  // ...and it was warned about before the first step, with the scaling spelt out.
  CHECK_THAT(
      r.output,
      ContainsSubstring("lr = optim.base_lr 1e+30 x global batch 2 (optim.batch 2 x 1 rank(s) x optim.accumulate 1) / "
                        "256 = 7.81e+27: high"));
  REQUIRE(fs::exists(dir / "run" / "checkpoint.pt"));
  const auto lines = metrics(dir / "run");
  REQUIRE(!lines.empty());
  for (const auto& line : lines) CHECK(std::isfinite(line["loss"].get<double>()));
}

TEST_CASE("fine-tuning learns labelled videos and eval reproduces its accuracy from the checkpoint",
          "[trainer][cli][finetune]") {
  mme::test::TempDir dir;
  const std::string data = "model_preset=tiny data.flow_dir=" + (shards() / "real-flow").string() +
                           " data.list=" + (shards() / "real.txt").string();
  // Five real videos of three sources, 4 clips each per epoch; from scratch, no smoothing and none of
  // VideoMAE's regularisation (this one memorises; the full recipe is the next test's).
  mme::test::run_checked(std::string(TRAINER_BINARY) + " -q finetune " + data + " run.out=" + (dir / "ft").string() +
                         " optim.batch=5 data.repeats=4 optim.epochs=40 optim.base_lr=0.3 optim.warmup_epochs=2"
                         " finetune.label_smoothing=0" +
                         kPlainFinetune);
  const auto last = metrics(dir / "ft").back();
  CHECK(last["losses"]["top1"].get<double>() == 1.0);
  CHECK(last["loss"].get<double>() < 0.05);
  auto eval_of = [&](const fs::path& out) {
    return std::string(TRAINER_BINARY) + " eval " + data + " run.out=" + out.string();
  };
  const std::string eval = eval_of(dir / "ft");
  const auto first = mme::test::run_capture(eval);
  INFO(first.output);
  REQUIRE(first.rc == 0);
  const auto a = nlohmann::json::parse(mme::test::read_file(dir / "ft" / "eval.json"));
  const auto confusion = mme::test::read_file(dir / "ft" / "confusion.csv");
  CHECK(a["top1"].get<double>() == 1.0);
  CHECK(a["videos"] == 5);
  CHECK(a["views_per_video"] == 6);
  CHECK(confusion == "true\\predicted,0,1,2\n0,2,0,0\n1,0,2,0\n2,0,0,1\n");
  // Again, in a new process: the same numbers.
  REQUIRE(mme::test::run_capture(eval).rc == 0);
  CHECK(nlohmann::json::parse(mme::test::read_file(dir / "ft" / "eval.json")) == a);
  CHECK(mme::test::read_file(dir / "ft" / "confusion.csv") == confusion);
  // The same weights exported for VideoMAE's code and for transformers, and evaluated from those
  // files (finetune.init: weights fine-tuned elsewhere): the same numbers.
  for (const std::string format : {"videomae", "hf"}) {
    const auto file = dir / ("exported-" + format);
    mme::test::run_checked(std::string(TRAINER_BINARY) + " export " + (dir / "ft" / "checkpoint.pt").string() +
                           " --format " + format + " --out " + file.string());
    const auto out = dir / ("eval-" + format);
    mme::test::run_checked(eval_of(out) + " finetune.init=" + file.string());
    const auto b = nlohmann::json::parse(mme::test::read_file(out / "eval.json"));
    CHECK(b["top1"] == a["top1"]);
    CHECK(b["top5"] == a["top5"]);
    CHECK(mme::test::read_file(out / "confusion.csv") == confusion);
  }

  // Probing starts from a pretraining checkpoint and trains only the head.
  mme::test::run_checked(tiny_run(dir / "pre", "run.max_steps=4") + " -q");
  const auto probe = mme::test::run_capture(
      std::string(TRAINER_BINARY) + " probe " + data + " run.out=" + (dir / "probe").string() +
      " finetune.init=" + (dir / "pre" / "checkpoint.pt").string() + " optim.batch=5 run.max_steps=3");
  INFO(probe.output);
  CHECK(probe.rc == 0);
  CHECK_THAT(probe.output, ContainsSubstring("(a pretrain run's checkpoint): 28 tensors loaded"));
  CHECK_THAT(probe.output, ContainsSubstring("frozen encoder"));

  // The usual slip, the default preset (ViT-B) on a tiny checkpoint: one short line that says so.
  const auto wrong = mme::test::run_capture(
      std::string(TRAINER_BINARY) + " probe data.flow_dir=" + (shards() / "real-flow").string() +
      " run.out=" + (dir / "wrong").string() + " finetune.init=" + (dir / "pre" / "checkpoint.pt").string());
  INFO(wrong.output);
  CHECK(wrong.rc == 1);
  CHECK_THAT(wrong.output, ContainsSubstring("(model_preset tiny), this run builds {\"depth\":12,\"dim\":768"));
  CHECK(wrong.output.size() < 600);
}

TEST_CASE("fine-tuning with VideoMAE's whole recipe still learns: the loss falls and eval beats chance",
          "[trainer][cli][finetune]") {
  mme::test::TempDir dir;
  const std::string data = "model_preset=tiny data.flow_dir=" + (shards() / "real-flow").string() +
                           " data.list=" + (shards() / "real.txt").string();
  // Drop path 0.1, Mixup 0.8 / CutMix 1.0 with smoothing 0.1, RandAugment m7-n4, erasing 0.25 and
  // repeated sampling 2: the defaults of `trainer finetune`, on five real videos from scratch.
  const auto run =
      mme::test::run_capture(std::string(TRAINER_BINARY) + " finetune " + data + " run.out=" + (dir / "ft").string() +
                             " optim.batch=10 optim.epochs=120 optim.base_lr=0.2 optim.warmup_epochs=5"
                             " --print-config");
  REQUIRE(run.rc == 0);
  const auto settings = nlohmann::json::parse(run.output)["finetune"];
  CHECK(settings["mixup"] == 0.8);
  CHECK(settings["cutmix"] == 1.0);
  CHECK(settings["rand_augment"] == "rand-m7-n4-mstd0.5-inc1");
  CHECK(settings["erase"] == 0.25);
  CHECK(settings["drop_path"] == 0.1);
  mme::test::run_checked(std::string(TRAINER_BINARY) + " -q finetune " + data + " run.out=" + (dir / "ft").string() +
                         " optim.batch=10 optim.epochs=400 optim.base_lr=0.2 optim.warmup_epochs=5");
  const auto lines = metrics(dir / "ft");
  REQUIRE(lines.size() == 400);
  auto mean_loss = [&](std::size_t from, std::size_t to) {
    double sum = 0;
    for (auto i = from; i < to; ++i) sum += lines[i]["loss"].get<double>();
    return sum / static_cast<double>(to - from);
  };
  // Chance is ln 3 = 1.10; the mixed, smoothed targets put the floor near 0.6 (their entropy).
  const double first = mean_loss(0, 10), last = mean_loss(390, 400);
  INFO("loss " << first << " -> " << last);
  CHECK(last < 0.9 * first);
  const auto eval =
      mme::test::run_capture(std::string(TRAINER_BINARY) + " eval " + data + " run.out=" + (dir / "ft").string());
  INFO(eval.output);
  REQUIRE(eval.rc == 0);
  const auto result = nlohmann::json::parse(mme::test::read_file(dir / "ft" / "eval.json"));
  CHECK(result["top1"].get<double>() > 0.4);  // chance: 1/3; the most common class: 2 of 5
}

TEST_CASE("trainer masks draws one clip through every masking strategy", "[trainer][cli][masks]") {
  mme::test::TempDir dir;
  const auto r = mme::test::run_capture(
      std::string(TRAINER_BINARY) +
      " masks model_preset=tiny mask.ratio=0.5 data.flow_dir=" + (shards() / "object-flow").string() +
      " data.target_dir=" + (shards() / "object-traj").string() + " --out " + (dir / "m.png").string());
  INFO(r.output);
  REQUIRE(r.rc == 0);
  CHECK_THAT(r.output, ContainsSubstring("rows: tube, mgm, mofo, random"));
  const auto png = mme::test::read_file(dir / "m.png");
  REQUIRE(png.size() > 1000);
  CHECK(png.substr(1, 3) == "PNG");
  // 8 slices of 64 + 4 px wide, 4 rows of 64 + 4 px high (IHDR width and height, big-endian).
  auto be32 = [&](std::size_t at) {
    return (static_cast<unsigned char>(png[at]) << 24) | (static_cast<unsigned char>(png[at + 1]) << 16) |
           (static_cast<unsigned char>(png[at + 2]) << 8) | static_cast<unsigned char>(png[at + 3]);
  };
  CHECK(be32(16) == 8 * 68);
  CHECK(be32(20) == 4 * 68);
  // What it shows (read back with matplotlib's PNG reader): every row masks half of each slice's
  // 4 x 4 tokens, the tube row the same ones in every slice, only the MOFO row has the box.
  const auto shown = mme::test::run_capture(mme::test::python() + " " +
                                            (mme::test::source_dir() / "tests/trainer/check_mask_picture.py").string() +
                                            " " + (dir / "m.png").string() + " 4 8 4 16 0.5 tube,mgm,mofo,random");
  INFO(shown.output);
  CHECK(shown.rc == 0);
}
