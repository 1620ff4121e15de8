#include <mme/video_attributes.h>

namespace mme {

void write_video_attributes(GroupWriter& group, const ListEntry& entry, const VideoInfo& info,
                            const SourceStat& source) {
  ShardWriter::set_source(group, source);
  if (entry.label) group.set("label", *entry.label);
  group.set("fps", info.fps);
  group.set("native_width", info.native_width);
  group.set("native_height", info.native_height);
  group.set("rotation", info.rotation);
  group.set("codec", info.codec);
}

}  // namespace mme
