// trajgen: trajectory targets, MOFO motion boxes and MGM motion maps from flowgen's shards.
#include <mme/cli.h>
#include <mme/error.h>
#include <mme/log.h>
#include <mme/part_store.h>
#include <trajgen/run.h>
#include <trajgen/trajectory_viz.h>

#include <cstdio>

int main(int argc, char** argv) {
  CLI::App app{
      "Trajectories of every patch's seed points tracked through dense flow at the native frame rate\n"
      "(MME targets), MOFO motion boxes and MGM motion maps, as HDF5 target shards keyed by their settings.",
      "trajgen"};
  trajgen::RunOptions o;
  std::string lookup = "bilinear";
  app.add_option("--flow", o.flow_dir, "flowgen output directory")->check(CLI::ExistingDirectory);
  app.add_option("--out", o.out, "Target directory (shards, manifest, config.json)");
  app.add_option("--traj-len", o.settings.traj_len, "L: native steps tracked from each start frame")
      ->capture_default_str();
  app.add_option("--cell", o.settings.track.cell, "C: one seed per C x C cell, at its centre")->capture_default_str();
  app.add_option("--lookup", lookup, "Flow lookup at the point: bilinear, or nearest (the public MME code)")
      ->check(CLI::IsMember({"bilinear", "nearest"}))
      ->capture_default_str();
  app.add_option("--mofo-window", o.settings.box.window, "Flows summed for a frame's MOFO motion box")
      ->capture_default_str();
  app.add_option("--motion-source", o.settings.motion_source, "Motion maps from: auto (codec vectors if stored), flow")
      ->check(CLI::IsMember({"auto", "flow"}))
      ->capture_default_str();
  app.add_option("--shard", o.shard, "Process shard I of N (0-based) of the flow set's videos")
      ->check(mme::cli::shard_validator())
      ->capture_default_str();
  app.add_option("--threads", o.threads, "Worker threads (0: all cores)")->check(CLI::NonNegativeNumber);
  app.add_option("--part-videos", o.part_videos, "Videos per published part file")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  auto* merge = app.add_subcommand("merge", "Index every shard of TARGETDIR as one dataset (TARGETDIR/index.json)");
  std::filesystem::path merge_dir;
  merge->add_option("targetdir", merge_dir, "trajgen output directory")->required()->check(CLI::ExistingDirectory);
  auto* viz = app.add_subcommand("viz", "Trajectories (and the MOFO box) over a frame, as PNG");
  std::filesystem::path viz_targets, viz_flow, viz_png = "trajectories.png";
  std::string viz_video;
  int viz_start = -1, viz_zoom = 2;
  viz->add_option("targetdir", viz_targets, "trajgen output directory")->required()->check(CLI::ExistingDirectory);
  viz->add_option("--flow", viz_flow, "The flowgen output directory it was made from (for the frames)")
      ->required()
      ->check(CLI::ExistingDirectory);
  viz->add_option("--video", viz_video, "Video id (default: the first)");
  viz->add_option("--start", viz_start, "Start frame (default: the middle one)");
  viz->add_option("--zoom", viz_zoom, "Magnification")->check(CLI::Range(1, 8))->capture_default_str();
  viz->add_option("--out", viz_png, "PNG file to write")->capture_default_str();
  mme::cli::setup(app,
                  {{"trajgen --flow /data/k400-flow --out /data/k400-traj", "MME's targets (L = 4, C = 8, bilinear)"},
                   {"trajgen --flow flow --out traj-nearest --lookup nearest", "the public MME code's lookup"},
                   {"trajgen --flow flow --out traj --shard $SLURM_ARRAY_TASK_ID/16", "one task of a Slurm array"},
                   {"trajgen viz traj --flow flow --video abseiling/x1.mp4 --out x1.png", "look at the targets"}});
  if (int rc = mme::cli::parse(app, argc, argv); rc >= 0) return rc;
  if (*merge) {
    try {
      const auto n = mme::merge_index(merge_dir, mme::schema::kTargetSettingsFile);
      mme::log::info("{}: index.json lists {} videos", merge_dir.string(), n);
      return mme::cli::kOk;
    } catch (const std::exception& e) {
      mme::log::error("{}", e.what());
      return mme::cli::kFatal;
    }
  }
  if (*viz) {
    try {
      const auto targets = mme::scan_videos(viz_targets), flows = mme::scan_videos(viz_flow);
      if (targets.empty()) throw mme::FileError(viz_targets, "holds no videos");
      if (viz_video.empty()) viz_video = targets.begin()->first;
      if (!targets.count(viz_video)) throw mme::FileError(viz_targets, "has no video '" + viz_video + "'");
      if (!flows.count(viz_video)) throw mme::FileError(viz_flow, "has no video '" + viz_video + "'");
      trajgen::write_trajectory_picture(viz_targets / targets.at(viz_video), viz_flow / flows.at(viz_video), viz_video,
                                        viz_start, viz_zoom, viz_png);
      std::printf("%s\n", viz_png.c_str());
      return mme::cli::kOk;
    } catch (const std::exception& e) {
      mme::log::error("{}", e.what());
      return mme::cli::kFatal;
    }
  }
  if (o.flow_dir.empty() || o.out.empty()) {
    std::fprintf(stderr, "trajgen: --flow and --out are required\nRun 'trajgen --help' for the usage and examples.\n");
    return mme::cli::kUsage;
  }
  o.settings.track.lookup = trajgen::parse_lookup(lookup);
  return trajgen::run_trajgen(o);
}
