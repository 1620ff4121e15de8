// trainer: masked video pretraining on flowgen's frames and trajgen's targets (LibTorch).
#include <trainer/checkpoint.h>
#include <trainer/config.h>
#include <trainer/features.h>
#include <trainer/finetune.h>
#include <trainer/mask_generator.h>
#include <trainer/mask_picture.h>
#include <trainer/pretrain.h>
#include <trainer/target.h>
#include <trainer/videomae_io.h>
#include <trainer/world.h>

#include <mme/json_file.h>
#include <mme/cli.h>
#include <mme/host_allocator.h>
#include <mme/log.h>

#include <fmt/ranges.h>

#include <cstdio>

int main(int argc, char** argv) {
  mme::keep_freed_memory();
  CLI::App app{
      "Masked video pretraining (VideoMAE, MME) that streams sparse clips and dense motion targets from\n"
      "flowgen and trajgen shards.",
      "trainer"};
  app.require_subcommand(1);
  app.fallthrough();  // -q, -v after the subcommand too
  // pretrain, finetune, probe and eval all take settings the same way.
  std::filesystem::path config_file;
  std::vector<std::string> overrides;
  bool print_config = false;
  auto add_run = [&](const std::string& name, const std::string& what) {
    auto* cmd = app.add_subcommand(name, what);
    cmd->add_option("--config", config_file, "JSON settings file (see docs/usage.md)")->check(CLI::ExistingFile);
    cmd->add_option("overrides", overrides, "key=value settings, e.g. optim.batch=64 targets.hog=0.5");
    cmd->add_flag("--print-config", print_config, "Print the resolved settings as JSON and exit");
    return cmd;
  };
  auto* pretrain = add_run(
      "pretrain",
      fmt::format("Pretrain a masked video autoencoder. Settings: defaults <- model_preset ({}) <- recipe ({}) <- "
                  "--config <- key=value overrides. Masks: {}. Targets: {}.",
                  fmt::join(trainer::model_presets(), ", "), fmt::join(trainer::recipes(), ", "),
                  fmt::join(trainer::mask_types(), ", "), fmt::join(trainer::target_names(), ", ")));
  auto* finetune = add_run(
      "finetune", "Fine-tune on labelled videos from finetune.init (layer-wise lr decay, mean or MOFO pooling)");
  auto* probe = add_run("probe", "Train a linear head on the frozen encoder of finetune.init");
  auto* eval = add_run(
      "eval", "Multi-view test of a finetune/probe run (run.out) on data.list: RUNDIR/eval.json, confusion.csv");
  auto* features_cmd =
      add_run("features",
              "Per-video embeddings of finetune.init's model (mean over eval's views) for data.list into HDF5 (--out): "
              "/features, /ids, /labels");
  std::filesystem::path features_out = "features.h5";
  features_cmd->add_option("--out", features_out, "HDF5 file to write")->capture_default_str();
  auto* masks_cmd = add_run("masks", "Draw one clip through every masking strategy (PNG; --out)");
  std::filesystem::path masks_png = "masks.png";
  masks_cmd->add_option("--out", masks_png, "PNG file to write")->capture_default_str();
  auto* export_cmd = app.add_subcommand(
      "export",
      "Write a run's whole model for PyTorch: VideoMAE's names in a torch.save file (pretraining: encoder and "
      "decoder; fine-tuned: encoder, fc_norm, head), or a Hugging Face directory (--format hf)");
  std::filesystem::path export_checkpoint, export_out;
  std::string export_format = "videomae";
  export_cmd->add_option("checkpoint", export_checkpoint, "RUNDIR/checkpoint.pt")->required()->check(CLI::ExistingFile);
  export_cmd->add_option("--out", export_out, "The .pth file (videomae) or directory (hf) to write")->required();
  export_cmd->add_option("--format", export_format, "videomae (torch.load) or hf (from_pretrained)")
      ->check(CLI::IsMember({"videomae", "hf"}))
      ->capture_default_str();
  mme::cli::setup(
      app,
      {{"trainer pretrain --config mme-vitb.json", "a run from a settings file (resumes if RUNDIR has a checkpoint)"},
       {"trainer pretrain model_preset=tiny recipe=mme data.flow_dir=flow data.target_dir=traj run.out=run",
        "MME's recipe on a tiny model, settings on the command line"},
       {"trainer pretrain --config run.json optim.batch=64 run.max_steps=1000", "override settings"},
       {"trainer pretrain --config run.json --print-config", "show every setting with its value"},
       {"trainer finetune --config ft.json finetune.init=runs/mme-vitb/checkpoint.pt data.list=train.txt",
        "fine-tune the pretrained encoder on labelled videos"},
       {"trainer probe finetune.init=runs/mme-vitb/checkpoint.pt data.flow_dir=flow data.list=train.txt run.out=probe",
        "linear probing"},
       {"trainer eval run.out=probe data.flow_dir=flow data.list=val.txt", "top-1/top-5 and a confusion matrix"},
       {"trainer features finetune.init=runs/mme-vitb/checkpoint.pt data.flow_dir=flow data.list=val.txt --out val.h5",
        "embeddings for k-NN or retrieval"},
       {"trainer masks data.flow_dir=flow data.target_dir=traj model_preset=vit-b --out masks.png",
        "one clip through every masking strategy of the registry"},
       {"trainer export runs/mme-vitb/checkpoint.pt --out mme-vitb.pth", "the model for VideoMAE's code (torch.load)"},
       {"trainer export runs/ft/checkpoint.pt --format hf --out ft-hf",
        "for transformers: VideoMAEForVideoClassification.from_pretrained(\"ft-hf\")"}});
  for (auto* cmd : {pretrain, finetune, probe, eval, features_cmd, masks_cmd, export_cmd})
    cmd->footer(app.get_footer());  // `trainer <command> --help` shows the examples too
  if (int rc = mme::cli::parse(app, argc, argv); rc >= 0) return rc;
  if (*export_cmd) {
    try {
      std::printf("%s\n", trainer::export_run(export_checkpoint, export_out, export_format).c_str());
      return mme::cli::kOk;
    } catch (const std::exception& e) {
      mme::log::error("{}", e.what());
      return mme::cli::kFatal;
    }
  }
  trainer::TrainConfig config;
  try {
    const std::string mode = *finetune || *features_cmd ? "finetune" : *probe ? "probe" : "pretrain";
    config = trainer::load_config(config_file, overrides, mode);
    config.world_size = trainer::world_from_environment().size;  // torchrun's or Slurm's variables
  } catch (const std::exception& e) {
    mme::log::error("{}", e.what());
    return mme::cli::kUsage;
  }
  if (print_config) {
    std::printf("%s\n", mme::dump_json(config.to_json(), 2).c_str());
    return mme::cli::kOk;
  }
  try {
    if (*masks_cmd) {
      const auto types = trainer::write_mask_picture(config, masks_png);
      std::printf("%s\n", masks_png.c_str());
      mme::log::info("rows: {}", fmt::join(types, ", "));
      return mme::cli::kOk;
    }
    if (*features_cmd) {
      const long videos = trainer::write_features(config, features_out);
      std::printf("%s\n", features_out.c_str());
      mme::log::info("{} videos embedded", videos);
      return mme::cli::kOk;
    }
    if (*eval) {
      const auto result = trainer::evaluate(config);
      if (!result.is_null()) std::printf("%s\n", mme::dump_json(result).c_str());  // rank 0's
      return mme::cli::kOk;
    }
    return *pretrain ? trainer::pretrain(config) : trainer::finetune(config);
  } catch (const std::exception& e) {
    mme::log::error("{}", e.what());
    return mme::cli::kFatal;
  }
}
