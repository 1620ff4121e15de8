// flowgen: dense optical flow for whole video datasets into compressed HDF5 shards.
#include <flowgen/flow_backend.h>
#include <flowgen/flow_viz.h>
#include <flowgen/run.h>
#include <mme/cli.h>
#include <mme/error.h>
#include <mme/json_file.h>
#include <mme/log.h>
#include <mme/part_store.h>

namespace {

int run_merge(const std::filesystem::path& out_dir) {
  try {
    const auto n = mme::merge_index(out_dir, mme::schema::kFlowSettingsFile);
    mme::log::info("{}: index.json lists {} videos", out_dir.string(), n);
    return mme::cli::kOk;
  } catch (const std::exception& e) {
    mme::log::error("{}", e.what());
    return mme::cli::kFatal;
  }
}

int run_viz(const std::filesystem::path& source, std::string video, const std::filesystem::path& out_dir, int rows,
            float max_flow) {
  try {
    std::filesystem::path part = source;
    if (std::filesystem::is_directory(source)) {
      // An output directory: find the video through index.json (made by `flowgen merge`).
      const auto index_path = source / "index.json";
      if (!std::filesystem::exists(index_path))
        throw mme::FileError(source, "no index.json: run 'flowgen merge " + source.string() + "' first");
      const auto index = mme::read_json_file(index_path);
      if (!index.is_object() || !index.contains("videos") || !index["videos"].is_object())
        throw mme::FileError(index_path, "is not a flowgen index (no \"videos\" object)");
      const auto& videos = index["videos"];
      if (videos.empty()) throw mme::FileError(index_path, "lists no videos");
      if (video.empty()) video = videos.begin().key();
      if (!videos.contains(video)) throw mme::FileError(index_path, "has no video '" + video + "'");
      const auto& entry = videos[video];
      if (!entry.is_object() || !entry.contains("file") || !entry["file"].is_string())
        throw mme::FileError(index_path, "names no file for video '" + video + "'");
      part = source / entry["file"].get<std::string>();
    } else if (video.empty()) {
      const auto ids = mme::ShardReader(part).video_ids();
      if (ids.empty()) throw mme::FileError(part, "holds no videos");
      video = ids.front();
    }
    const auto r = flowgen::write_flow_pictures(part, video, out_dir, rows, max_flow);
    std::printf("%s\n%s\n", r.flow_png.c_str(), r.strip_png.c_str());
    return mme::cli::kOk;
  } catch (const std::exception& e) {
    mme::log::error("{}", e.what());
    return mme::cli::kFatal;
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Dense optical flow between every pair of consecutive frames of whole video datasets, written with\n"
      "the frames to compressed HDF5 shards. Parallel, resumable, shardable over a cluster.",
      "flowgen"};
  flowgen::RunOptions o;
  std::string algos;
  for (const auto& b : flowgen::flow_backends()) algos += "\n  " + b.name + ": " + b.description;
  app.add_option("--list", o.list, "Dataset list: one video per line, 'path [label]'")->check(CLI::ExistingFile);
  app.add_option("--root", o.root, "Directory the list's paths are relative to")->capture_default_str();
  app.add_option("--out", o.out, "Output directory (shards, manifest, settings)");
  app.add_option("--algo", o.settings.algo, "Flow algorithm:" + algos)->capture_default_str();
  app.add_option("--short-side", o.settings.short_side,
                 "Resize to this short side before flow (0: native up to --max-short-side)")
      ->capture_default_str();
  app.add_option("--max-short-side", o.settings.max_short_side, "Cap of the native short side (0: none)")
      ->capture_default_str();
  app.add_option("--quant-step", o.settings.quant_step, "Flow quantisation step in pixels (stored int16)")
      ->capture_default_str();
  app.add_option("--frames", o.settings.frames, "Store the frames for the trainer: jpeg or none")
      ->check(CLI::IsMember({"jpeg", "none"}))
      ->capture_default_str();
  app.add_option("--jpeg-quality", o.settings.jpeg_quality, "JPEG quality of the stored frames")->capture_default_str();
  app.add_flag("--mv", o.settings.mv, "Also store codec motion vectors made dense at 1/4 resolution");
  app.add_option("--shard", o.shard, "Process shard I of N (0-based), e.g. $SLURM_ARRAY_TASK_ID/N")
      ->check(mme::cli::shard_validator())
      ->capture_default_str();
  app.add_option("--threads", o.threads, "Worker threads (0: all cores)")->check(CLI::NonNegativeNumber);
  app.add_option("--device", o.device, "Device of --algo tvl1-gpu: cpu, cuda or cuda:N (one process per GPU)")
      ->capture_default_str();
  app.add_option("--part-videos", o.part_videos, "Videos per published part file (a kill loses at most the open parts)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();

  auto* merge = app.add_subcommand("merge", "Index every shard of OUTDIR as one dataset (OUTDIR/index.json)");
  std::filesystem::path merge_dir;
  merge->add_option("outdir", merge_dir, "flowgen output directory")->required()->check(CLI::ExistingDirectory);

  auto* viz = app.add_subcommand("viz", "Colour-coded flow (Middlebury wheel) and frame|flow strips as PNG");
  std::filesystem::path viz_source, viz_out = "flowgen-viz";
  std::string viz_video;
  int viz_rows = 4;
  float viz_max = 0;
  viz->add_option("source", viz_source, "flowgen output directory (after merge) or one part file")
      ->required()
      ->check(CLI::ExistingPath);
  viz->add_option("--video", viz_video, "Video id (default: the first)");
  viz->add_option("--out", viz_out, "Directory for the PNG files")->capture_default_str();
  viz->add_option("--rows", viz_rows, "Pairs in the strip")->capture_default_str();
  viz->add_option("--max-flow", viz_max, "Flow magnitude of full saturation in pixels (0: the field's maximum)");

  mme::cli::setup(app,
                  {{"flowgen --list train.txt --root /data/k400 --out /data/k400-flow", "a whole dataset, DIS fast"},
                   {"flowgen --list train.txt --root /data/k400 --out flow --shard $SLURM_ARRAY_TASK_ID/64",
                    "one task of a 64-task Slurm array (scripts/slurm/flowgen.sbatch)"},
                   {"flowgen merge /data/k400-flow", "index all shards as one dataset"},
                   {"flowgen viz /data/k400-flow --video abseiling/x1.mp4 --out viz", "look at one video's flow"}});
  if (int rc = mme::cli::parse(app, argc, argv); rc >= 0) return rc;
  if (*merge) return run_merge(merge_dir);
  if (*viz) return run_viz(viz_source, viz_video, viz_out, viz_rows, viz_max);
  if (o.list.empty() || o.out.empty()) {
    std::fprintf(stderr, "flowgen: --list and --out are required\nRun 'flowgen --help' for the usage and examples.\n");
    return mme::cli::kUsage;
  }
  return flowgen::run_flowgen(o);
}
