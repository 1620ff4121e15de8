#include <trajgen/settings.h>

#include <mme/shard_schema.h>

#include <fmt/format.h>

namespace trajgen {

nlohmann::json TrajSettings::to_json() const {
  namespace key = mme::schema::target_settings;
  return {{key::traj_len.name, traj_len},
          {key::cell.name, track.cell},
          {key::lookup.name, to_string(track.lookup)},
          {key::traj_scale.name, traj_scale},
          {key::mofo_window.name, box.window},
          {key::motion_source.name, motion_source}};
}

void TrajSettings::validate() const {
  if (traj_len < 1 || traj_len > 64)
    throw std::invalid_argument(fmt::format("--traj-len {} must be in 1..64", traj_len));
  if (track.cell < 2 || track.cell > 64 || track.cell % 2)
    throw std::invalid_argument(fmt::format("--cell {} must be even, in 2..64", track.cell));
  if (!(traj_scale > 0 && traj_scale <= 1)) throw std::invalid_argument("trajectory scale must be in (0, 1]");
  if (box.window < 1) throw std::invalid_argument("--mofo-window must be >= 1");
  if (motion_source != "auto" && motion_source != "flow")
    throw std::invalid_argument("--motion-source must be auto or flow");
}

}  // namespace trajgen
