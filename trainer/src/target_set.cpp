#include <trainer/target_set.h>

#include <mme/error.h>
#include <mme/json_file.h>
#include <mme/part_store.h>
#include <mme/shard_schema.h>

#include <fmt/format.h>

#include <map>
#include <string>
#include <vector>

namespace trainer {

namespace fs = std::filesystem;
namespace schema = mme::schema;

void check_target_set(const fs::path& target_dir, const fs::path& flow_dir,
                      const std::map<std::string, std::string>& flow_videos, const TrajectoryConfig& trajectory) {
  const auto file = target_dir / schema::kTargetSettingsFile;
  if (!fs::exists(file)) throw mme::FileError(file, "missing: data.target_dir is not a trajgen output directory");
  const auto config = mme::read_json_file(file);
  auto expect = [&](const schema::ConfigKey& k, int mine, const char* setting) {
    const int theirs = mme::json_int(config, k.name, file);
    if (theirs != mine)
      throw mme::FileError(file, fmt::format("the targets were made with {} = {}, but this run has {} = {}", k.name,
                                             theirs, setting, mine));
  };
  expect(schema::target_settings::traj_len, trajectory.steps, "trajectory.steps");
  expect(schema::target_settings::cell, trajectory.cell, "trajectory.cell");
  const auto flow = mme::output_identity(flow_dir, schema::kFlowSettingsFile, flow_videos);
  const char* flow_key = schema::target_settings::flow.name;
  if (!config.contains(flow_key))
    throw mme::FileError(file, fmt::format("has no '{}' (the identity of its flow set)", flow_key));
  const auto& theirs = config[flow_key];
  if (theirs == flow) return;
  // Describe theirs from whatever it holds: a damaged or hand-edited file must still give this
  // message, not a JSON type error.
  auto field = [&](const char* key) {
    if (!theirs.is_object() || !theirs.contains(key)) return std::string("?");
    return theirs[key].is_string() ? theirs[key].get<std::string>() : theirs[key].dump();
  };
  const bool same_settings =
      theirs.is_object() && theirs.contains("settings") && theirs["settings"] == flow["settings"];
  // Name what differs: the videos with targets that the flow set no longer holds (a part deleted
  // or damaged since), and those it holds without targets.
  std::string which;
  if (same_settings) {
    std::vector<std::string> gone, added;
    std::map<std::string, std::string> targets;
    try {
      targets = mme::scan_set(target_dir).videos;
    } catch (const std::exception&) {
    }
    for (const auto& [id, part] : targets)
      if (!flow_videos.count(id)) gone.push_back(id);
    for (const auto& [id, part] : flow_videos)
      if (!targets.count(id)) added.push_back(id);
    const auto some = [](const std::vector<std::string>& ids) {
      std::string text;
      for (std::size_t i = 0; i < ids.size() && i < 5; ++i) text += (i ? ", " : "") + ids[i];
      return ids.size() > 5 ? text + ", ..." : text;
    };
    if (!gone.empty()) which += fmt::format("; not in data.flow_dir now: {} video(s) ({})", gone.size(), some(gone));
    if (!added.empty()) which += fmt::format("; without targets: {} video(s) ({})", added.size(), some(added));
    which +=
        "; run trajgen again with these settings to bring the targets up to the flow set (mme-verify "
        "names damaged parts, a flowgen re-run repairs them)";
  }
  throw mme::FileError(
      file, fmt::format("the targets were made from another flow set: theirs has {} videos (hash {}), "
                        "data.flow_dir {} has {} videos (hash {}){}{}",
                        field("videos"), field("hash"), flow_dir.string(), flow["videos"].dump(),
                        flow["hash"].get<std::string>(), same_settings ? "" : " and other flowgen settings", which));
}

}  // namespace trainer
