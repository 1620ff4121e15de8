// Data-parallel training over c10d's Gloo backend, with real processes on real shards: 2 ranks x
// batch 4 against 1 x 8, a rank killed or stopped by SIGTERM, resumes across world sizes, eval
// over ranks, and the set-ups that must fail with one line.
#include <torch/torch.h>  // the precompiled header of this executable; keeps torch ahead of Catch2

#include <trainer/checkpoint.h>
#include <trainer/classifier.h>
#include <trainer/config.h>
#include <trainer/pretrain.h>

#include <test_support.h>

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;
using Catch::Matchers::ContainsSubstring;

namespace {

fs::path shards() {
  return fs::path(MME_TRAINER_SHARDS);
}

// A TCP port nobody listens on now (the kernel's pick for port 0).
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t n = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &n);
  ::close(fd);
  return ntohs(a.sin_port);
}

std::vector<nlohmann::json> metrics(const fs::path& run) {
  std::vector<nlohmann::json> lines;
  std::ifstream in(run / "metrics.jsonl");
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

// Waits (at most two minutes) until rank 0 of a running run has logged `steps` steps.
void wait_for_steps(const fs::path& run, std::size_t steps) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (metrics(run).size() < steps && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

struct Rank {
  pid_t pid = -1;
  fs::path log;
  int rc = -1;
  std::string output() const { return mme::test::read_file(log); }
};

// Starts `world` ranks of `command` (torchrun's variables, rendezvous on `port`), each with its own
// extra arguments, logging to DIR/rank<r>.log.
std::vector<Rank> start_ranks(int world, const std::string& command, const fs::path& dir, int port,
                              const std::vector<std::string>& extra = {}) {
  std::vector<Rank> ranks(world);
  fs::create_directories(dir);
  for (int r = 0; r < world; ++r) {
    ranks[r].log = dir / ("rank" + std::to_string(r) + ".log");
    const auto line = "exec env RANK=" + std::to_string(r) + " WORLD_SIZE=" + std::to_string(world) +
                      " LOCAL_RANK=" + std::to_string(r) +
                      " MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(port) + " " + command + " " +
                      (r < static_cast<int>(extra.size()) ? extra[r] : "") + " >" + ranks[r].log.string() + " 2>&1";
    ranks[r].pid = fork();
    REQUIRE(ranks[r].pid >= 0);
    if (ranks[r].pid == 0) {
      execl("/bin/sh", "sh", "-c", line.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
  }
  return ranks;
}

// Waits for every rank, at most `limit`; a rank still running then is killed (rc -1).
void wait_ranks(std::vector<Rank>& ranks, std::chrono::seconds limit = std::chrono::seconds(300)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (auto& r : ranks) {
    int status = 0;
    while (waitpid(r.pid, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        kill(r.pid, SIGKILL);
        waitpid(r.pid, &status, 0);
        r.rc = -1;
        goto next;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  next:;
  }
}

std::string outputs(const std::vector<Rank>& ranks) {
  std::string all;
  for (std::size_t r = 0; r < ranks.size(); ++r) all += "--- rank " + std::to_string(r) + ":\n" + ranks[r].output();
  return all;
}

// Runs `world` ranks to the end; every one must exit with `rc`.
std::vector<Rank> run_ranks(int world, const std::string& command, const fs::path& logs, int expected_rc = 0) {
  auto ranks = start_ranks(world, command, logs, free_port());
  wait_ranks(ranks);
  INFO(outputs(ranks));
  for (const auto& r : ranks) REQUIRE(r.rc == expected_rc);
  return ranks;
}

// The model's weights in a checkpoint, by name.
std::map<std::string, torch::Tensor> weights(const fs::path& checkpoint, const std::vector<std::string>& settings) {
  const auto config = trainer::load_config("", settings);
  auto model = trainer::make_model(config);
  trainer::load_weights(checkpoint, *model, torch::kCPU);
  std::map<std::string, torch::Tensor> out;
  for (const auto& p : model->named_parameters()) out[p.key()] = p.value().clone();
  return out;
}

double largest_difference(const std::map<std::string, torch::Tensor>& a,
                          const std::map<std::string, torch::Tensor>& b) {
  double largest = 0;
  for (const auto& [name, t] : a) largest = std::max(largest, (t - b.at(name)).abs().max().item<double>());
  return largest;
}

// Per step: the losses of two runs agree to float tolerance (or exactly).
void check_same_losses(const std::vector<nlohmann::json>& a, const std::vector<nlohmann::json>& b, double tolerance) {
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    INFO("step " << a[i]["step"] << ": " << a[i]["loss"] << " vs " << b[i]["loss"]);
    CHECK(a[i]["step"] == b[i]["step"]);
    const double x = a[i]["loss"].get<double>(), y = b[i]["loss"].get<double>();
    if (tolerance == 0)
      CHECK(x == y);
    else
      CHECK(std::abs(x - y) <= tolerance * std::max(1.0, std::abs(x)));
    // The gradient norm too: AdamW would hide gradients summed instead of averaged over the ranks.
    auto numbers = a[i]["losses"];
    numbers["grad_norm"] = a[i]["grad_norm"];
    auto others = b[i]["losses"];
    others["grad_norm"] = b[i]["grad_norm"];
    for (const auto& [name, value] : numbers.items()) {
      const double p = value.get<double>(), q = others[name].get<double>();
      if (tolerance == 0)
        CHECK(p == q);
      else
        CHECK(std::abs(p - q) <= tolerance * std::max(1.0, std::abs(p)));
    }
  }
}

// MME's recipe (trajectories + HOG) on a tiny model: 5 real videos x 2 clips = one global batch of
// 8 per epoch, 20 steps.
const std::vector<std::string> kPretrain{"model_preset=tiny", "recipe=mme"};
std::string pretrain(const fs::path& out, int batch, const std::string& extra = "") {
  return std::string(TRAINER_BINARY) +
         " pretrain model_preset=tiny recipe=mme data.flow_dir=" + (shards() / "real-flow").string() +
         " data.target_dir=" + (shards() / "real-traj").string() + " run.out=" + out.string() +
         " optim.batch=" + std::to_string(batch) +
         " data.repeats=2 optim.epochs=20 optim.warmup_epochs=2 optim.base_lr=0.05 run.timeout=60 " + extra;
}

constexpr double kFloatTolerance = 1e-5;  // relative, per step: summation order differs (seen: 2e-7)
constexpr double kWeightTolerance = 1e-5;

}  // namespace

TEST_CASE("2 ranks x batch 4 pretrain as 1 rank x batch 8: losses per step, final weights, kills and resumes",
          "[trainer][distributed]") {
  mme::test::TempDir dir;
  run_ranks(1, pretrain(dir / "one", 8), dir / "logs-one");
  run_ranks(2, pretrain(dir / "two", 4), dir / "logs-two");
  const auto one = metrics(dir / "one"), two = metrics(dir / "two");
  REQUIRE(one.size() == 20);
  CHECK(one.back()["loss"].get<double>() < one.front()["loss"].get<double>());
  check_same_losses(one, two, kFloatTolerance);
  const auto w1 = weights(dir / "one" / "checkpoint.pt", kPretrain);
  const auto w2 = weights(dir / "two" / "checkpoint.pt", kPretrain);
  CHECK(largest_difference(w1, w2) < kWeightTolerance);
  // The other way to a global batch of 8: one rank, batch 4, two micro-batches per step.
  run_ranks(1, pretrain(dir / "accumulate", 4, "optim.accumulate=2"), dir / "logs-accumulate");
  check_same_losses(one, metrics(dir / "accumulate"), kFloatTolerance);

  SECTION("a rank killed mid-run stops the other with its name; the same command resumes both, bit for bit") {
    const int port = free_port();
    auto ranks = start_ranks(2, pretrain(dir / "killed", 4, "run.checkpoint_every=5"), dir / "logs-killed", port);
    wait_for_steps(dir / "killed", 7);
    REQUIRE(metrics(dir / "killed").size() >= 7);
    const auto killed_at = std::chrono::steady_clock::now();
    kill(ranks[1].pid, SIGKILL);
    wait_ranks(ranks, std::chrono::seconds(90));
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed_at).count();
    INFO(outputs(ranks));
    CHECK(ranks[0].rc == 1);
    CHECK_THAT(ranks[0].output(), ContainsSubstring("rank 1 stopped responding (killed, crashed or hung)"));
    CHECK(seconds < 30);  // Gloo sees the closed connection; the survivor waits 5 s for others
    CHECK(metrics(dir / "killed").size() < 20);
    // Re-run the same command: both ranks resume from the last checkpoint (step 5 or 10).
    run_ranks(2, pretrain(dir / "killed", 4, "run.checkpoint_every=5"), dir / "logs-resumed");
    check_same_losses(two, metrics(dir / "killed"), 0);
    CHECK(largest_difference(w2, weights(dir / "killed" / "checkpoint.pt", kPretrain)) == 0);
  }

  SECTION("SIGTERM on one rank stops both at the same step with a checkpoint and exit code 130") {
    const int port = free_port();
    auto ranks = start_ranks(2, pretrain(dir / "term", 4, "run.checkpoint_every=100"), dir / "logs-term", port);
    wait_for_steps(dir / "term", 4);
    kill(ranks[1].pid, SIGTERM);
    wait_ranks(ranks, std::chrono::seconds(90));
    INFO(outputs(ranks));
    CHECK(ranks[0].rc == 130);
    CHECK(ranks[1].rc == 130);
    const auto stopped = metrics(dir / "term");
    REQUIRE(fs::exists(dir / "term" / "checkpoint.pt"));
    REQUIRE(stopped.size() < 20);
    CHECK_THAT(ranks[0].output(),
               ContainsSubstring("interrupted at step " + std::to_string(stopped.back()["step"].get<int>())));
    // Requeued: the same command finishes the run as if it had never stopped.
    run_ranks(2, pretrain(dir / "term", 4, "run.checkpoint_every=100"), dir / "logs-requeued");
    check_same_losses(two, metrics(dir / "term"), 0);
  }

  SECTION("a 2-rank checkpoint resumes with 1 rank, and a 1-rank one with 2") {
    run_ranks(2, pretrain(dir / "2to1", 4, "run.max_steps=10"), dir / "logs-2to1-a");
    run_ranks(1, pretrain(dir / "2to1", 8), dir / "logs-2to1-b");
    check_same_losses(one, metrics(dir / "2to1"), kFloatTolerance);
    CHECK(largest_difference(w1, weights(dir / "2to1" / "checkpoint.pt", kPretrain)) < kWeightTolerance);

    run_ranks(1, pretrain(dir / "1to2", 8, "run.max_steps=10"), dir / "logs-1to2-a");
    run_ranks(2, pretrain(dir / "1to2", 4), dir / "logs-1to2-b");
    check_same_losses(one, metrics(dir / "1to2"), kFloatTolerance);
    CHECK(largest_difference(w1, weights(dir / "1to2" / "checkpoint.pt", kPretrain)) < kWeightTolerance);
  }
}

TEST_CASE("2 ranks x batch 4 fine-tune as 1 x 8, and eval over 2 ranks writes the 1-rank eval.json",
          "[trainer][distributed][finetune]") {
  mme::test::TempDir dir;
  const std::string data = " model_preset=tiny data.flow_dir=" + (shards() / "real-flow").string() +
                           " data.list=" + (shards() / "real.txt").string() + " run.timeout=60";
  auto finetune = [&](const fs::path& out, int batch) {
    return std::string(TRAINER_BINARY) + " finetune" + data + " run.out=" + out.string() +
           " optim.batch=" + std::to_string(batch) +
           " data.repeats=4 optim.epochs=10 optim.base_lr=0.3 optim.warmup_epochs=2 finetune.label_smoothing=0"
           // Mixup and CutMix pair clips within each rank's micro-batch, as VideoMAE's do: the one
           // part of fine-tuning whose draws depend on the world size (docs/cluster.md). Drop path,
           // RandAugment and erasing are drawn per clip and stay on.
           " finetune.mixup=0 finetune.cutmix=0";
  };
  run_ranks(1, finetune(dir / "one", 8), dir / "logs-one");
  run_ranks(2, finetune(dir / "two", 4), dir / "logs-two");
  const auto one = metrics(dir / "one");
  REQUIRE(one.size() == 20);  // 5 videos x 4 clips = 2 global batches per epoch
  check_same_losses(one, metrics(dir / "two"), kFloatTolerance);
  auto classifier = [&](const fs::path& checkpoint) {
    const auto config = trainer::load_config("", {"model_preset=tiny"}, "finetune");
    trainer::VideoClassifier model(config.model, 3, "mean");
    trainer::load_weights(checkpoint, *model, torch::kCPU);
    std::map<std::string, torch::Tensor> out;
    for (const auto& p : model->named_parameters()) out[p.key()] = p.value().clone();
    return out;
  };
  CHECK(largest_difference(classifier(dir / "one" / "checkpoint.pt"), classifier(dir / "two" / "checkpoint.pt")) <
        kWeightTolerance);

  // eval: rank r tests videos r, r + 2, ...; rank 0 writes the sums.
  const std::string eval = std::string(TRAINER_BINARY) + " eval" + data + " run.out=" + (dir / "one").string();
  run_ranks(1, eval, dir / "logs-eval-one");
  const auto single = mme::test::read_file(dir / "one" / "eval.json");
  const auto confusion = mme::test::read_file(dir / "one" / "confusion.csv");
  fs::remove(dir / "one" / "eval.json");
  const auto ranks = run_ranks(2, eval, dir / "logs-eval-two");
  CHECK(mme::test::read_file(dir / "one" / "eval.json") == single);
  CHECK(mme::test::read_file(dir / "one" / "confusion.csv") == confusion);
  CHECK(nlohmann::json::parse(single)["videos"] == 5);
  CHECK(ranks[1].output().find("top1") == std::string::npos);  // one result, printed by rank 0
}

TEST_CASE("bad data-parallel set-ups stop with one line that says what is wrong", "[trainer][distributed]") {
  mme::test::TempDir dir;
  SECTION("a rank with other settings") {
    const auto ranks = start_ranks(2, pretrain(dir / "run", 4), dir / "logs", free_port(), {"", "optim.base_lr=0.1"});
    auto copy = ranks;
    wait_ranks(copy, std::chrono::seconds(120));
    INFO(outputs(copy));
    for (const auto& r : copy) {
      CHECK(r.rc == 1);
      CHECK_THAT(r.output(), ContainsSubstring("rank 1 does not agree with rank 0 on the settings: optim.base_lr 0.1 "
                                               "here, 0.05 on rank 0"));
    }
  }
  SECTION("a master nobody listens on") {
    const int port = free_port();
    const auto start = std::chrono::steady_clock::now();
    const auto r =
        mme::test::run_capture("env RANK=1 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(port) +
                               " " + pretrain(dir / "run", 4, "run.timeout=3"));
    INFO(r.output);
    CHECK(r.rc == 1);
    CHECK_THAT(r.output, ContainsSubstring("rank 1: cannot reach rank 0's rendezvous at 127.0.0.1:" +
                                           std::to_string(port) + " within 3 s"));
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(30));
  }
  SECTION("a world the data cannot feed") {
    auto ranks = start_ranks(2, pretrain(dir / "run", 8, "data.repeats=1"), dir / "logs", free_port());
    wait_ranks(ranks, std::chrono::seconds(120));
    INFO(outputs(ranks));
    for (const auto& r : ranks) {
      CHECK(r.rc == 1);
      CHECK_THAT(r.output(),
                 ContainsSubstring("5 clips, fewer than one global batch of 16 (optim.batch 8 x 2 rank(s)"));
    }
  }
  SECTION("torchrun's variables without the master") {
    const auto r = mme::test::run_capture("env RANK=0 WORLD_SIZE=2 " + pretrain(dir / "run", 4));
    CHECK(r.rc == 2);
    CHECK_THAT(r.output, ContainsSubstring("RANK and WORLD_SIZE are set but MASTER_ADDR is not"));
  }
}

TEST_CASE("a rank that hangs makes the other stop within run.timeout, naming it", "[trainer][distributed]") {
  mme::test::TempDir dir;
  auto ranks = start_ranks(2, pretrain(dir / "run", 4, "run.timeout=10"), dir / "logs", free_port());
  wait_for_steps(dir / "run", 3);
  REQUIRE(metrics(dir / "run").size() >= 3);
  const auto stopped_at = std::chrono::steady_clock::now();
  kill(ranks[1].pid, SIGSTOP);  // alive, connections open, never answering
  std::vector<Rank> survivor{ranks[0]};
  wait_ranks(survivor, std::chrono::seconds(60));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - stopped_at).count();
  kill(ranks[1].pid, SIGKILL);
  kill(ranks[1].pid, SIGCONT);
  int status = 0;
  waitpid(ranks[1].pid, &status, 0);
  INFO(survivor[0].output());
  CHECK(survivor[0].rc == 1);
  CHECK_THAT(survivor[0].output(), ContainsSubstring("rank 1 stopped responding (killed, crashed or hung)"));
  CHECK(seconds < 10 + 5 + 10);  // the timeout, the 5 s wait for the others, slack
}
