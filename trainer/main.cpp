// trainer: masked video pretraining on flowgen's frames and trajgen's targets (LibTorch).
#include <trainer/checkpoint.h>
#include <trainer/config.h>
#include <trainer/host_allocator.h>
#include <trainer/mask_generator.h>
#include <trainer/pretrain.h>
#include <trainer/target.h>
#include <trainer/videomae_io.h>

#include <mme/cli.h>
#include <mme/log.h>

#include <fmt/ranges.h>

#include <cstdio>

int main(int argc, char** argv) {
  trainer::tune_host_allocator();
  CLI::App app{
      "Masked video pretraining (VideoMAE, MME) that streams sparse clips and dense motion targets from\n"
      "flowgen and trajgen shards.",
      "trainer"};
  app.require_subcommand(1);
  app.fallthrough();  // -q, -v after the subcommand too
  auto* pretrain = app.add_subcommand(
      "pretrain",
      fmt::format("Pretrain a masked video autoencoder. Settings: defaults <- model_preset ({}) <- recipe ({}) <- "
                  "--config <- key=value overrides. Masks: {}. Targets: {}.",
                  fmt::join(trainer::model_presets(), ", "), fmt::join(trainer::recipes(), ", "),
                  fmt::join(trainer::mask_types(), ", "), fmt::join(trainer::target_names(), ", ")));
  std::filesystem::path config_file;
  std::vector<std::string> overrides;
  bool print_config = false;
  pretrain->add_option("--config", config_file, "JSON settings file (see docs/usage.md)")->check(CLI::ExistingFile);
  pretrain->add_option("overrides", overrides, "key=value settings, e.g. optim.batch=64 targets.hog=0.5");
  pretrain->add_flag("--print-config", print_config, "Print the resolved settings as JSON and exit");
  auto* export_cmd = app.add_subcommand(
      "export", "Write a checkpoint's encoder as a PyTorch state_dict with VideoMAE's key names (torch.load reads it)");
  std::filesystem::path export_checkpoint, export_out;
  export_cmd->add_option("checkpoint", export_checkpoint, "RUNDIR/checkpoint.pt")->required()->check(CLI::ExistingFile);
  export_cmd->add_option("--out", export_out, "The .pth file to write")->required();
  mme::cli::setup(
      app,
      {{"trainer pretrain --config mme-vitb.json", "a run from a settings file (resumes if RUNDIR has a checkpoint)"},
       {"trainer pretrain model_preset=tiny recipe=mme data.flow_dir=flow data.target_dir=traj run.out=run",
        "MME's recipe on a tiny model, settings on the command line"},
       {"trainer pretrain --config run.json optim.batch=64 run.max_steps=1000", "override settings"},
       {"trainer pretrain --config run.json --print-config", "show every setting with its value"}});
  pretrain->footer(app.get_footer());  // `trainer pretrain --help` shows the examples too
  if (int rc = mme::cli::parse(app, argc, argv); rc >= 0) return rc;
  if (*export_cmd) {
    try {
      const auto config = trainer::TrainConfig::from_json(trainer::checkpoint_settings(export_checkpoint));
      auto model = trainer::make_model(config);
      trainer::load_weights(export_checkpoint, *model, torch::kCPU);
      trainer::export_encoder(model->encoder, export_out);
      std::printf("%s\n", export_out.c_str());
      return mme::cli::kOk;
    } catch (const std::exception& e) {
      mme::log::error("{}", e.what());
      return mme::cli::kFatal;
    }
  }
  trainer::TrainConfig config;
  try {
    config = trainer::load_config(config_file, overrides);
  } catch (const std::exception& e) {
    mme::log::error("{}", e.what());
    return mme::cli::kUsage;
  }
  if (print_config) {
    std::printf("%s\n", config.to_json().dump(2).c_str());
    return mme::cli::kOk;
  }
  try {
    return trainer::pretrain(config);
  } catch (const std::exception& e) {
    mme::log::error("{}", e.what());
    return mme::cli::kFatal;
  }
}
